//! Customer rows: sealed personal fields, clear non-personal attributes, tags, consents, interactions.

use std::collections::BTreeMap;

use sqlx::Row;

use super::{Store, Tx};

/// The personal fields of a customer, each stored sealed (plus a sealed masked rendering).
pub const PERSONAL_FIELDS: [&str; 6] = ["name", "email", "phone", "address", "birth_date", "notes"];

/// Sealed personal field values keyed by column (`email`, `email_masked`, …); `None` clears a column.
pub type SealedFields = BTreeMap<String, Option<Vec<u8>>>;

#[derive(Debug, Clone)]
pub struct CustomerRow {
    pub id: String,
    pub tenant_id: String,
    pub region: String,
    pub sealed: SealedFields,
    pub tags: Vec<String>,
    pub consents: BTreeMap<String, bool>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The wrapped subject key `(key_version, wrapped)`, read with the row (None on insert).
    pub subject_key: Option<(u32, Vec<u8>)>,
}

/// One act of consent: who gave or withdrew it, how it was collected, under which wording.
#[derive(Debug, Clone, Default)]
pub struct ConsentAct {
    /// The actor as the audit trail names it (`user:…`, `plugin:…`, `operator:…`).
    pub by: String,
    /// How each purpose's consent was collected, sealed under the customer's subject key.
    pub evidence: BTreeMap<String, Vec<u8>>,
    /// The version of the wording shown to the person, per purpose.
    pub wording: BTreeMap<String, String>,
}

/// One entry of a customer's consent history.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConsentEventRow {
    pub id: String,
    pub purpose: String,
    pub granted: i64,
    pub at: i64,
    pub actor: String,
    pub evidence: Option<Vec<u8>>,
    pub wording: Option<String>,
    pub bundled: i64,
}

/// The facts about a customer the policy decides with (none of them personal).
#[derive(Debug, Clone)]
pub struct CustomerFacts {
    pub restricted: bool,
    pub consents: BTreeMap<String, bool>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InteractionRow {
    pub id: String,
    pub customer_id: String,
    pub kind: String,
    pub summary: Vec<u8>,
    pub created_by: String,
    pub created_at: i64,
}

/// Filters on non-personal attributes and blind indexes.
#[derive(Debug, Default, Clone)]
pub struct CustomerFilter {
    pub region: Option<String>,
    pub tags: Vec<String>,
    pub email_bidx: Option<String>,
    pub phone_bidx: Option<String>,
    /// Only customers who granted every one of these consent purposes.
    pub purposes: Vec<String>,
    pub limit: i64,
    pub offset: i64,
}

fn sealed_columns() -> Vec<String> {
    PERSONAL_FIELDS
        .iter()
        .flat_map(|f| [f.to_string(), format!("{f}_masked")])
        .collect()
}

fn is_sealed_column(c: &str) -> bool {
    PERSONAL_FIELDS
        .iter()
        .any(|f| c == *f || c.strip_suffix("_masked") == Some(f))
}

impl Store {
    /// Inserts a customer with its wrapped subject key, tags and consents (caller owns the transaction).
    pub async fn insert_customer(
        &self,
        tx: &mut Tx,
        row: &CustomerRow,
        email_bidx: Option<&str>,
        phone_bidx: Option<&str>,
        subject_key: (u32, u32, &[u8]),
        act: &ConsentAct,
    ) -> sqlx::Result<()> {
        let cols = sealed_columns();
        let placeholders: Vec<String> = (0..cols.len()).map(|i| format!("${}", i + 10)).collect();
        let sql = format!(
            "INSERT INTO customers (id, tenant_id, region, email_bidx, phone_bidx, created_at, updated_at, \
             tags_json, consents_json, {}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, {})",
            cols.join(", "),
            placeholders.join(", ")
        );
        let mut q = sqlx::query(&sql)
            .bind(&row.id)
            .bind(&row.tenant_id)
            .bind(&row.region)
            .bind(email_bidx)
            .bind(phone_bidx)
            .bind(row.created_at)
            .bind(row.updated_at)
            .bind(json_text(&row.tags))
            .bind(json_text(&row.consents));
        for c in &cols {
            q = q.bind(row.sealed.get(c).cloned().flatten());
        }
        q.execute(&mut **tx).await?;
        let (dek_version, key_version, wrapped) = subject_key;
        sqlx::query(
            "INSERT INTO subject_keys (tenant_id, subject_id, dek_version, key_version, wrapped_key, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&row.tenant_id)
        .bind(&row.id)
        .bind(dek_version as i64)
        .bind(key_version as i64)
        .bind(wrapped)
        .bind(row.created_at)
        .execute(&mut **tx)
        .await?;
        self.replace_tags(tx, &row.tenant_id, &row.id, &row.tags)
            .await?;
        self.upsert_consents(
            tx,
            &row.tenant_id,
            &row.id,
            &row.consents,
            row.created_at,
            act,
        )
        .await?;
        Ok(())
    }

    pub async fn replace_tags(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        customer_id: &str,
        tags: &[String],
    ) -> sqlx::Result<()> {
        sqlx::query("UPDATE customers SET tags_json = $1 WHERE tenant_id = $2 AND id = $3")
            .bind(json_text(tags))
            .bind(tenant_id)
            .bind(customer_id)
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM customer_tags WHERE tenant_id = $1 AND customer_id = $2")
            .bind(tenant_id)
            .bind(customer_id)
            .execute(&mut **tx)
            .await?;
        for tag in tags {
            sqlx::query(
                "INSERT INTO customer_tags (tenant_id, customer_id, tag) VALUES ($1, $2, $3)",
            )
            .bind(tenant_id)
            .bind(customer_id)
            .bind(tag)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// A customer's consents, purpose → granted.
    pub async fn consents(
        &self,
        tenant_id: &str,
        customer_id: &str,
    ) -> sqlx::Result<BTreeMap<String, bool>> {
        consents_of(self.pool(), tenant_id, customer_id).await
    }

    /// Sets a customer's consents and appends each to the consent ledger as one act.
    pub async fn upsert_consents(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        customer_id: &str,
        consents: &BTreeMap<String, bool>,
        at: i64,
        act: &ConsentAct,
    ) -> sqlx::Result<()> {
        let bundled = consents.values().filter(|g| **g).count() > 1;
        for (purpose, granted) in consents {
            sqlx::query(
                "INSERT INTO consent_events (id, tenant_id, customer_id, purpose, granted, at, actor, evidence, wording, bundled) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(tenant_id)
            .bind(customer_id)
            .bind(purpose)
            .bind(*granted as i64)
            .bind(at)
            .bind(&act.by)
            .bind(act.evidence.get(purpose))
            .bind(act.wording.get(purpose))
            .bind((bundled && *granted) as i64)
            .execute(&mut **tx)
            .await?;
        }
        for (purpose, granted) in consents {
            sqlx::query(
                "INSERT INTO consents (tenant_id, customer_id, purpose, granted, updated_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (customer_id, purpose) DO UPDATE SET granted = excluded.granted, updated_at = excluded.updated_at",
            )
            .bind(tenant_id)
            .bind(customer_id)
            .bind(purpose)
            .bind(*granted as i64)
            .bind(at)
            .execute(&mut **tx)
            .await?;
        }
        let all = consents_of(&mut **tx, tenant_id, customer_id).await?;
        sqlx::query("UPDATE customers SET consents_json = $1 WHERE tenant_id = $2 AND id = $3")
            .bind(json_text(&all))
            .bind(tenant_id)
            .bind(customer_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// A customer's consent history, oldest first.
    pub async fn consent_history(
        &self,
        tenant_id: &str,
        customer_id: &str,
    ) -> sqlx::Result<Vec<ConsentEventRow>> {
        sqlx::query_as(
            "SELECT id, purpose, granted, at, actor, evidence, wording, bundled FROM consent_events \
             WHERE tenant_id = $1 AND customer_id = $2 ORDER BY at, purpose, id",
        )
        .bind(tenant_id)
        .bind(customer_id)
        .fetch_all(self.pool())
        .await
    }

    /// The purposes the tenant marks as needing separate consent: `(purpose, separate, note)`.
    pub async fn consent_purposes(
        &self,
        tenant_id: &str,
    ) -> sqlx::Result<Vec<(String, bool, String)>> {
        let rows: Vec<(String, i64, String)> = sqlx::query_as(
            "SELECT purpose, separate, note FROM consent_purposes WHERE tenant_id = $1 ORDER BY purpose",
        )
        .bind(tenant_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(p, s, n)| (p, s != 0, n)).collect())
    }

    pub async fn set_consent_purpose(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        purpose: &str,
        separate: bool,
        note: &str,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO consent_purposes (tenant_id, purpose, separate, note, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant_id, purpose) DO UPDATE SET separate = excluded.separate, note = excluded.note, \
             updated_at = excluded.updated_at",
        )
        .bind(tenant_id)
        .bind(purpose)
        .bind(separate as i64)
        .bind(note)
        .bind(super::now_ms())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Ids of the tenant's customers whose `column` (`id`, `email_bidx` or `phone_bidx`) is
    /// `value` (at most two: enough to tell one from several).
    pub async fn customer_ids_by(
        &self,
        tenant_id: &str,
        column: &str,
        value: &str,
    ) -> sqlx::Result<Vec<String>> {
        let column = match column {
            "email_bidx" => "email_bidx",
            "phone_bidx" => "phone_bidx",
            _ => "id",
        };
        sqlx::query_scalar(&format!(
            "SELECT id FROM customers WHERE tenant_id = $1 AND {column} = $2 LIMIT 2"
        ))
        .bind(tenant_id)
        .bind(value)
        .fetch_all(self.pool())
        .await
    }

    /// What the policy decides with about one customer; None when there is no such customer.
    pub async fn customer_facts(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> sqlx::Result<Option<CustomerFacts>> {
        let row: Option<(i64, String)> = sqlx::query_as(
            "SELECT restricted, consents_json FROM customers WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(r, c)| CustomerFacts {
            restricted: r != 0,
            consents: serde_json::from_str(&c).unwrap_or_default(),
        }))
    }

    /// Restricts (or lifts the restriction of) processing a customer. False: no such customer.
    pub async fn set_restricted(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        id: &str,
        restricted: bool,
    ) -> sqlx::Result<bool> {
        let r =
            sqlx::query("UPDATE customers SET restricted = $1 WHERE tenant_id = $2 AND id = $3")
                .bind(restricted as i64)
                .bind(tenant_id)
                .bind(id)
                .execute(&mut **tx)
                .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Updates region, sealed columns and blind indexes of one customer of `tenant_id`.
    /// Returns false when no such customer exists in that tenant.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_customer(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        id: &str,
        region: Option<&str>,
        sealed: &SealedFields,
        email_bidx: Option<Option<&str>>,
        phone_bidx: Option<Option<&str>>,
        at: i64,
    ) -> sqlx::Result<bool> {
        let mut sets = vec!["updated_at = $1".to_string()];
        let mut n = 1;
        let mut next = |col: &str| {
            n += 1;
            format!("{col} = ${n}")
        };
        if region.is_some() {
            sets.push(next("region"));
        }
        if email_bidx.is_some() {
            sets.push(next("email_bidx"));
        }
        if phone_bidx.is_some() {
            sets.push(next("phone_bidx"));
        }
        let cols: Vec<&String> = sealed.keys().filter(|c| is_sealed_column(c)).collect();
        for c in &cols {
            sets.push(next(c));
        }
        let sql = format!(
            "UPDATE customers SET {} WHERE tenant_id = ${} AND id = ${}",
            sets.join(", "),
            n + 1,
            n + 2
        );
        let mut q = sqlx::query(&sql).bind(at);
        if let Some(r) = region {
            q = q.bind(r);
        }
        if let Some(b) = email_bidx {
            q = q.bind(b);
        }
        if let Some(b) = phone_bidx {
            q = q.bind(b);
        }
        for c in &cols {
            q = q.bind(sealed.get(*c).cloned().flatten());
        }
        let r = q.bind(tenant_id).bind(id).execute(&mut **tx).await?;
        Ok(r.rows_affected() == 1)
    }

    /// Deletes a customer with everything that points at them (interactions, tags, consents and
    /// their history, plugin documents with their blind-index rows, events about them with their
    /// pending deliveries, export archives) and crypto-shreds its subject key. Returns false if
    /// it did not exist.
    pub async fn delete_customer(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        id: &str,
    ) -> sqlx::Result<bool> {
        for sql in [
            "DELETE FROM plugin_record_index WHERE record_id IN \
             (SELECT id FROM plugin_records WHERE tenant_id = $1 AND customer_id = $2)",
            "DELETE FROM plugin_records WHERE tenant_id = $1 AND customer_id = $2",
            "DELETE FROM plugin_event_deliveries WHERE event_id IN \
             (SELECT id FROM plugin_events WHERE tenant_id = $1 AND customer_id = $2)",
            "DELETE FROM plugin_events WHERE tenant_id = $1 AND customer_id = $2",
            "DELETE FROM interactions WHERE tenant_id = $1 AND customer_id = $2",
            "DELETE FROM customer_tags WHERE tenant_id = $1 AND customer_id = $2",
            "DELETE FROM consents WHERE tenant_id = $1 AND customer_id = $2",
            "DELETE FROM consent_events WHERE tenant_id = $1 AND customer_id = $2",
            "DELETE FROM privacy_exports WHERE tenant_id = $1 AND customer_id = $2",
            "DELETE FROM subject_keys WHERE tenant_id = $1 AND subject_id = $2",
        ] {
            sqlx::query(sql)
                .bind(tenant_id)
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
        let r = sqlx::query("DELETE FROM customers WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn customer(&self, tenant_id: &str, id: &str) -> sqlx::Result<Option<CustomerRow>> {
        let filter = CustomerFilter {
            limit: 1,
            ..Default::default()
        };
        let mut rows = self.query_customers(tenant_id, &filter, Some(id)).await?;
        Ok(rows.pop())
    }

    /// One page of customers matching `filter`, and the total count.
    pub async fn customers(
        &self,
        tenant_id: &str,
        filter: &CustomerFilter,
    ) -> sqlx::Result<(Vec<CustomerRow>, i64)> {
        let rows = self.query_customers(tenant_id, filter, None).await?;
        let (where_sql, binds) = where_clause(filter, None);
        let sql = format!("SELECT COUNT(*) FROM customers c WHERE {where_sql}");
        let mut q = sqlx::query_scalar::<_, i64>(&sql).bind(tenant_id);
        for b in &binds {
            q = q.bind(b);
        }
        let total = q.fetch_one(self.pool()).await?;
        Ok((rows, total))
    }

    async fn query_customers(
        &self,
        tenant_id: &str,
        filter: &CustomerFilter,
        id: Option<&str>,
    ) -> sqlx::Result<Vec<CustomerRow>> {
        let cols = sealed_columns();
        let (where_sql, binds) = where_clause(filter, id);
        let sql = format!(
            "SELECT c.id, c.tenant_id, c.region, c.created_at, c.updated_at, c.tags_json, c.consents_json, \
             k.key_version, k.wrapped_key, {} \
             FROM customers c LEFT JOIN subject_keys k ON k.tenant_id = c.tenant_id AND k.subject_id = c.id \
             WHERE {where_sql} ORDER BY c.created_at, c.id LIMIT {} OFFSET {}",
            cols.iter()
                .map(|c| format!("c.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
            filter.limit.max(0),
            filter.offset.max(0)
        );
        let mut q = sqlx::query(&sql).bind(tenant_id);
        for b in &binds {
            q = q.bind(b);
        }
        let raw = q.fetch_all(self.pool()).await?;
        let mut rows = Vec::with_capacity(raw.len());
        for r in raw {
            let mut sealed = SealedFields::new();
            for c in &cols {
                sealed.insert(c.clone(), r.try_get::<Option<Vec<u8>>, _>(c.as_str())?);
            }
            rows.push(CustomerRow {
                id: r.try_get("id")?,
                tenant_id: r.try_get("tenant_id")?,
                region: r.try_get("region")?,
                sealed,
                tags: serde_json::from_str(&r.try_get::<String, _>("tags_json")?)
                    .unwrap_or_default(),
                consents: serde_json::from_str(&r.try_get::<String, _>("consents_json")?)
                    .unwrap_or_default(),
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
                subject_key: match (
                    r.try_get::<Option<i64>, _>("key_version")?,
                    r.try_get::<Option<Vec<u8>>, _>("wrapped_key")?,
                ) {
                    (Some(v), Some(w)) => Some((v as u32, w)),
                    _ => None,
                },
            });
        }
        Ok(rows)
    }

    /// The wrapped subject key of `subject`: `(dek_version, key_version, wrapped)`.
    pub async fn subject_key(
        &self,
        tenant_id: &str,
        subject: &str,
    ) -> sqlx::Result<Option<(u32, u32, Vec<u8>)>> {
        let row: Option<(i64, i64, Vec<u8>)> = sqlx::query_as(
            "SELECT dek_version, key_version, wrapped_key FROM subject_keys WHERE tenant_id = $1 AND subject_id = $2",
        )
        .bind(tenant_id)
        .bind(subject)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(d, k, w)| (d as u32, k as u32, w)))
    }

    pub async fn insert_interaction(
        &self,
        tx: &mut Tx,
        tenant_id: &str,
        row: &InteractionRow,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO interactions (id, tenant_id, customer_id, kind, summary, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&row.id)
        .bind(tenant_id)
        .bind(&row.customer_id)
        .bind(&row.kind)
        .bind(&row.summary)
        .bind(&row.created_by)
        .bind(row.created_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn interactions(
        &self,
        tenant_id: &str,
        customer_id: &str,
    ) -> sqlx::Result<Vec<InteractionRow>> {
        sqlx::query_as(
            "SELECT id, customer_id, kind, summary, created_by, created_at FROM interactions \
             WHERE tenant_id = $1 AND customer_id = $2 ORDER BY created_at DESC, id LIMIT 200",
        )
        .bind(tenant_id)
        .bind(customer_id)
        .fetch_all(self.pool())
        .await
    }
}

fn json_text<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// A customer's consents, purpose → granted, in a transaction or not.
async fn consents_of<'e, E: sqlx::Executor<'e, Database = super::Db>>(
    executor: E,
    tenant_id: &str,
    customer_id: &str,
) -> sqlx::Result<BTreeMap<String, bool>> {
    let all: Vec<(String, i64)> = sqlx::query_as(
        "SELECT purpose, granted FROM consents WHERE tenant_id = $1 AND customer_id = $2",
    )
    .bind(tenant_id)
    .bind(customer_id)
    .fetch_all(executor)
    .await?;
    Ok(all.into_iter().map(|(p, g)| (p, g != 0)).collect())
}

/// The WHERE clause after `c.tenant_id = $1`, and its further bind values in order.
fn where_clause(filter: &CustomerFilter, id: Option<&str>) -> (String, Vec<String>) {
    let mut parts = vec!["c.tenant_id = $1".to_string()];
    if id.is_none() {
        // A restricted customer is stored, not processed: lists never show them.
        parts.push("c.restricted = 0".into());
    }
    let mut binds = Vec::new();
    let mut push = |sql: &str, v: &str, binds: &mut Vec<String>| {
        binds.push(v.to_string());
        parts.push(sql.replace('?', &format!("${}", binds.len() + 1)));
    };
    if let Some(id) = id {
        push("c.id = ?", id, &mut binds);
    }
    if let Some(r) = &filter.region {
        push("c.region = ?", r, &mut binds);
    }
    if let Some(b) = &filter.email_bidx {
        push("c.email_bidx = ?", b, &mut binds);
    }
    if let Some(b) = &filter.phone_bidx {
        push("c.phone_bidx = ?", b, &mut binds);
    }
    for t in &filter.tags {
        push(
            "EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.id AND t.tag = ?)",
            t,
            &mut binds,
        );
    }
    for p in &filter.purposes {
        push(
            "EXISTS (SELECT 1 FROM consents p WHERE p.tenant_id = c.tenant_id AND p.customer_id = c.id \
             AND p.purpose = ? AND p.granted = 1)",
            p,
            &mut binds,
        );
    }
    (parts.join(" AND "), binds)
}
