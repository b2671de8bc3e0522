//! `crm import customers FILE.csv`: validate every row first, then insert all in one transaction.
//!
//! Columns: name, email, phone, address, birth_date, notes, region, tags (separated by `;`),
//! consents (`purpose=yes;purpose=no`). Unknown columns are refused; empty cells mean "not given".

use std::path::Path;

use crate::app::App;
use crate::audit;
use crate::customers::{self, Changes, validate};
use crate::error::AppError;
use crate::store::Tx;
use crate::vault::TenantKeys;

const COLUMNS: [&str; 9] = validate::WRITABLE_FIELDS;

/// A row that could not be imported, with its line number in the file.
#[derive(Debug, Clone)]
pub struct RowError {
    pub line: u64,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub imported: usize,
    pub skipped: Vec<RowError>,
}

fn parse_row(headers: &[String], record: &csv::StringRecord) -> Result<Changes, String> {
    let mut m = serde_json::Map::new();
    for (h, v) in headers.iter().zip(record.iter()) {
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        let value = match h.as_str() {
            "tags" => serde_json::json!(
                v.split(';')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .collect::<Vec<_>>()
            ),
            "consents" => {
                let mut c = serde_json::Map::new();
                for part in v.split(';').map(str::trim).filter(|p| !p.is_empty()) {
                    let (k, val) = part.split_once('=').ok_or_else(|| {
                        "field `consents`: write purpose=yes;purpose=no".to_string()
                    })?;
                    let b = match val.trim().to_lowercase().as_str() {
                        "yes" | "true" | "1" => true,
                        "no" | "false" | "0" => false,
                        _ => {
                            return Err(format!(
                                "field `consents`: `{}` must be yes or no",
                                k.trim()
                            ));
                        }
                    };
                    c.insert(k.trim().to_string(), b.into());
                }
                serde_json::Value::Object(c)
            }
            _ => serde_json::Value::String(v.to_string()),
        };
        m.insert(h.clone(), value);
    }
    validate::changes(&m, true)
}

/// Imports a CSV file into `tenant_id`. Without `skip_invalid`, any bad row aborts the whole import
/// (nothing written) and every bad row is reported.
pub async fn import_customers(
    app: &App,
    tenant_id: &str,
    path: &Path,
    skip_invalid: bool,
    progress: bool,
) -> anyhow::Result<Result<Outcome, Vec<RowError>>> {
    let (mut reader, headers) = open(path)?;
    let (rows, errors) = parse_rows(&mut reader, &headers);
    if !errors.is_empty() && !skip_invalid {
        return Ok(Err(errors));
    }

    let keys = app
        .tenant_keys(tenant_id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let bar = progress_bar(progress, rows.len());
    let mut tx = app.store.begin().await?;
    let mut outcome = Outcome {
        imported: 0,
        skipped: errors,
    };
    let db_errors = insert_rows(app, &mut tx, &keys, tenant_id, &rows, &bar, &mut outcome).await?;
    bar.finish_and_clear();
    if !db_errors.is_empty() && !skip_invalid {
        tx.rollback().await?;
        return Ok(Err(db_errors));
    }
    outcome.skipped.extend(db_errors);
    outcome.skipped.sort_by_key(|e| e.line);
    tx.commit().await?;
    Ok(Ok(outcome))
}

/// The header line is checked before any row is read, so a file with the wrong columns is
/// refused as a whole rather than row by row.
fn open(path: &Path) -> anyhow::Result<(csv::Reader<std::fs::File>, Vec<String>)> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_path(path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| anyhow::anyhow!("cannot read the header line: {e}"))?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    for h in &headers {
        if !COLUMNS.contains(&h.as_str()) {
            anyhow::bail!(
                "line 1: unknown column `{h}`; columns are: {}",
                COLUMNS.join(", ")
            );
        }
    }
    if !headers.iter().any(|h| h == "name") || !headers.iter().any(|h| h == "region") {
        anyhow::bail!("line 1: the columns `name` and `region` are required");
    }
    Ok((reader, headers))
}

/// Validates every row before anything is written, collecting all bad rows (including emails
/// repeated within the file) so that they can be reported together.
fn parse_rows(
    reader: &mut csv::Reader<std::fs::File>,
    headers: &[String],
) -> (Vec<(u64, Changes)>, Vec<RowError>) {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut emails = std::collections::HashMap::new();
    for record in reader.records() {
        match record {
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                errors.push(RowError {
                    line,
                    message: format!("unreadable row: {e}"),
                });
            }
            Ok(r) => {
                let line = r.position().map(|p| p.line()).unwrap_or(0);
                match parse_row(headers, &r) {
                    Ok(c) => {
                        if let Some(Some(e)) = &c.email
                            && let Some(first) = emails.insert(e.to_lowercase(), line)
                        {
                            errors.push(RowError {
                                line,
                                message: format!("the email repeats line {first}"),
                            });
                            continue;
                        }
                        rows.push((line, c));
                    }
                    Err(message) => errors.push(RowError { line, message }),
                }
            }
        }
    }
    (rows, errors)
}

/// Shown only when asked for, so that scripted imports print nothing but the outcome.
fn progress_bar(progress: bool, len: usize) -> indicatif::ProgressBar {
    let bar = if progress {
        indicatif::ProgressBar::new(len as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} customers ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// Inserts the valid rows in the caller's transaction, which decides whether to commit; a
/// conflict (such as an email already in the database) is returned as a row error, any other
/// failure aborts the import.
async fn insert_rows(
    app: &App,
    tx: &mut Tx,
    keys: &TenantKeys,
    tenant_id: &str,
    rows: &[(u64, Changes)],
    bar: &indicatif::ProgressBar,
    outcome: &mut Outcome,
) -> anyhow::Result<Vec<RowError>> {
    let mut db_errors = Vec::new();
    for (line, changes) in rows {
        match customers::insert_new(app, tx, keys, changes, &audit::operator_name("import")).await {
            Ok(id) => {
                audit::append(
                    tx,
                    tenant_id,
                    &audit::Event::operator(
                        "import",
                        "customer.create",
                        format!("customer/{id}"),
                        serde_json::json!({"source": "csv", "line": line}),
                    ),
                )
                .await?;
                outcome.imported += 1;
            }
            Err(AppError {
                code: "conflict",
                message,
                ..
            }) => {
                db_errors.push(RowError {
                    line: *line,
                    message,
                });
            }
            Err(e) => return Err(anyhow::anyhow!("line {line}: {e}")),
        }
        bar.inc(1);
    }
    Ok(db_errors)
}
