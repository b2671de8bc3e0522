//! Policy administration: a compliance team's use cases on its tenant's policy set (test a
//! draft, publish a set or a bundle, roll back), each authorising first and the same for the
//! API, the web editor and the CLI; publishing's machinery (check → test → build in a policy job
//! → load → probe → store, atomic and audited); and the watcher that brings every host to each
//! tenant's active version.

pub mod bundle;
pub mod history;
pub mod sandbox;
pub mod set;

pub use history::History;
pub use sandbox::{Job, JobError, Jobs};
pub use set::{Build, MAX_FILE_BYTES, MAX_FILES, PolicySet, Refusal, diff};

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use crate::app::{Actor, App};
use crate::audit;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::policy::{
    Decision, Engine, Input, RegoTestResult, Resource, Subject, TenantPolicy, Tier, WasmEngine,
    malformed_decision,
};
use crate::store::{DecisionQuery, DecisionRow, PolicyVersionRow, now_ms};

/// Most characters in a version's note.
pub const MAX_NOTE_CHARS: usize = 500;

/// The tenant's policies as the resource of a decision.
fn policy_resource(actor: &Actor) -> Resource {
    Resource {
        attributes: None,
        kind: "policy".into(),
        tenant: actor.tenant_id.clone(),
        id: None,
        fields: None,
    }
}

/// Asks the decision point whether `actor` may `action` the tenant's policies.
pub async fn authorize(app: &App, actor: &Actor, action: &str) -> AppResult<Decision> {
    app.authorize(actor, action, policy_resource(actor), serde_json::json!({}))
        .await
}

fn check_note(note: &str) -> AppResult<()> {
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(AppError::bad_request(
            "invalid_request",
            format!("field `note` must be at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Runs a policy job on the process's job slots, mapping the host's refusals to error kinds.
pub async fn run_job(tenant: &str, job: Job, set: &PolicySet) -> AppResult<sandbox::Outcome> {
    Jobs::shared().run(tenant, job, set).await.map_err(|e| {
        let mut err = match &e {
            JobError::TenantBusy => {
                AppError::new(ErrorKind::Throttled, "policy_job_busy", e.to_string())
            }
            JobError::HostBusy => AppError::new(ErrorKind::Busy, "busy", e.to_string()),
            JobError::Failed(_) => {
                tracing::error!(error = %e, "policy job failed");
                return AppError::internal();
            }
        };
        err.retry_after = Some(2);
        err
    })
}

/// The tenant's decision log, newest first (`decision.read`), narrowed by the filters in `pairs`
/// (a query string's): anything but the known filters, each at most once, is refused
/// (`invalid_query`).
pub async fn decisions<'a>(
    app: &App,
    actor: &Actor,
    pairs: impl IntoIterator<Item = (Cow<'a, str>, Cow<'a, str>)>,
) -> AppResult<Vec<DecisionRow>> {
    authorize(app, actor, "decision.read").await?;
    let query = decision_query(pairs)?;
    Ok(app.store.decisions(&actor.tenant_id, &query).await?)
}

const DECISION_QUERY_HELP: &str = "filters: limit (1 to 1000), action, allow (true or false), \
     since and until (milliseconds since the epoch), tenant_version (1 or more), digest (64 hex \
     digits)";

/// Reads the decision log's filters from a query string's pairs, refusing anything else.
fn decision_query<'a>(
    pairs: impl IntoIterator<Item = (Cow<'a, str>, Cow<'a, str>)>,
) -> AppResult<DecisionQuery> {
    let bad = |what: &str| {
        AppError::bad_request("invalid_query", format!("{what}; {DECISION_QUERY_HELP}"))
    };
    let int = |k: &str, v: &str, min: i64, max: i64| match v.parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(bad(&format!(
            "`{k}` must be an integer from {min} to {max}"
        ))),
    };
    let mut q = DecisionQuery::default();
    let mut seen = std::collections::BTreeSet::new();
    for (k, v) in pairs {
        if !seen.insert(k.to_string()) {
            return Err(bad(&format!("`{k}` is given twice")));
        }
        match k.as_ref() {
            "limit" => q.limit = int(&k, &v, 1, 1000)?,
            "action" if !v.is_empty() && v.len() <= 100 => q.action = Some(v.to_string()),
            "action" => return Err(bad("`action` must be 1 to 100 characters")),
            "allow" => {
                q.allow = Some(match v.as_ref() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad("`allow` must be true or false")),
                })
            }
            "since" => q.since = Some(int(&k, &v, 0, i64::MAX)?),
            "until" => q.until = Some(int(&k, &v, 0, i64::MAX)?),
            "tenant_version" => q.tenant_version = Some(int(&k, &v, 1, i64::MAX)?),
            "digest" if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => {
                q.digest = Some(v.to_ascii_lowercase())
            }
            "digest" => return Err(bad("`digest` must be 64 hex digits")),
            other => return Err(bad(&format!("unknown filter `{other}`"))),
        }
    }
    Ok(q)
}

/// Checks a draft set and runs its tests (`policy.read`), without publishing it.
pub async fn test_draft(
    app: &App,
    actor: &Actor,
    set: &PolicySet,
) -> AppResult<Result<Vec<RegoTestResult>, Refusal>> {
    authorize(app, actor, "policy.read").await?;
    Ok(run_job(&actor.tenant_id, Job::Test, set)
        .await?
        .into_tests())
}

/// Publishes a set as the tenant's next version (`policy.publish`): refused, naming the cause,
/// unless it compiles, its tests pass and its module answers with a decision.
pub async fn publish(
    app: &App,
    actor: &Actor,
    set: &PolicySet,
    note: &str,
) -> AppResult<Result<Published, Refusal>> {
    check_note(note)?;
    let decision = authorize(app, actor, "policy.publish").await?;
    publish_set(app, actor, &decision, set, None, note).await
}

/// Publishes an OPA bundle (`policy.publish`): its `/policy.wasm` decides.
pub async fn publish_bundle(
    app: &App,
    actor: &Actor,
    bytes: Vec<u8>,
    note: &str,
) -> AppResult<Result<Published, Refusal>> {
    check_note(note)?;
    let decision = authorize(app, actor, "policy.publish").await?;
    // Unpacking is bounded work, but up to 32 MiB of it: off the async workers.
    let (set, build) = tokio::task::spawn_blocking(move || bundle::read(&bytes))
        .await
        .map_err(anyhow::Error::from)?
        .map_err(|e| AppError::bad_request("invalid_bundle", format!("{e:#}")))?;
    publish_set(app, actor, &decision, &set, build, note).await
}

/// Loads a build's module and asks it one question. A set that does not answer with a decision
/// would deny every request: it is refused now, with an input built as the decision point builds
/// every input, so the probe cannot drift from it. Both run tenant code: off the async workers.
async fn load_and_probe(
    tenant_id: &str,
    build: Build,
) -> AppResult<(Build, Result<WasmEngine, String>)> {
    let probe = serde_json::value::to_raw_value(&Input {
        subject: Subject {
            kind: "user".into(),
            tenant: tenant_id.into(),
            user: "probe".into(),
            roles: vec!["compliance".into()],
            mfa: true,
            plugin: None,
        },
        action: "customer.read".into(),
        resource: Resource {
            attributes: None,
            kind: "customer".into(),
            tenant: tenant_id.into(),
            id: Some("probe".into()),
            fields: None,
        },
        context: serde_json::json!({"channel": "api"}),
    })
    .map_err(anyhow::Error::from)?;
    let (build, loaded) = tokio::task::spawn_blocking(move || {
        let loaded = build
            .quick_engine(build.digest())
            .map_err(|e| format!("{e:#}"))
            .and_then(|engine| {
                Engine::evaluate(&engine, &probe)
                    .map_err(|e| format!("{e:#}"))
                    .and_then(|out| malformed_decision(out).map_or(Ok(()), Err))
                    .map_err(|e| {
                        format!(
                            "data.crm.tenant.decision is not a decision for a compliance read: {e}"
                        )
                    })
                    .map(|()| engine)
            });
        (build, loaded)
    })
    .await
    .map_err(anyhow::Error::from)?;
    Ok((build, loaded))
}

/// Makes an earlier version active again (`policy.publish`); `None` when there is no such version.
pub async fn rollback(app: &App, actor: &Actor, version: i64) -> AppResult<Option<String>> {
    let decision = authorize(app, actor, "policy.publish").await?;
    rollback_to(app, actor, &decision, version).await
}

fn set_of(row: &PolicyVersionRow) -> anyhow::Result<PolicySet> {
    Ok(PolicySet {
        files: serde_json::from_str(&row.files)?,
    })
}

/// What a publish did.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Published {
    pub version: i64,
    pub digest: String,
    /// How the module evaluates: `rvm`, `interpreter` or `bundle`.
    pub mode: String,
    #[schema(value_type = Vec<Object>)]
    pub tests: Vec<RegoTestResult>,
    pub diff: String,
}

/// Checks, tests, builds (in a policy job) and publishes `set` as the tenant's next version,
/// activating it here at once; with `prebuilt` (a bundle's `/policy.wasm`), that module decides
/// and the set's Rego files, if the bundle carries any, are still checked and their tests run.
/// `decision` allowed `actor` `policy.publish` (see [`publish`] and [`publish_bundle`]).
async fn publish_set(
    app: &App,
    actor: &Actor,
    decision: &Decision,
    set: &PolicySet,
    prebuilt: Option<Build>,
    note: &str,
) -> AppResult<Result<Published, Refusal>> {
    let tenant_id = actor.tenant_id.as_str();
    let (tests, build) = match prebuilt {
        Some(b) if set.files.is_empty() => (Vec::new(), b),
        Some(b) => match run_job(tenant_id, Job::Test, set).await?.into_tests() {
            Ok(t) => (t, b),
            Err(r) => return Ok(Err(r)),
        },
        None => match run_job(tenant_id, Job::Build, set).await?.into_build() {
            Ok(tb) => tb,
            Err(r) => return Ok(Err(r)),
        },
    };
    // Loaded before anything is written: a module that fails to load is refused, and the
    // version in force stays in force.
    let (build, engine) = match load_and_probe(tenant_id, build).await? {
        (build, Ok(engine)) => (build, engine),
        (_, Err(e)) => return Ok(Err(Refusal::Invalid(vec![e]))),
    };
    let previous = app
        .store
        .policy_versions(tenant_id)
        .await?
        .into_iter()
        .next();
    let old = previous
        .as_ref()
        .map(set_of)
        .transpose()?
        .unwrap_or_default();
    let diff = diff(&old, set);
    let digest = set.digest();
    let mut tx = app.store.begin().await?;
    let version = app
        .store
        .publish_policy(
            &mut tx,
            tenant_id,
            &serde_json::to_string(&set.files).map_err(anyhow::Error::from)?,
            &digest,
            &actor.audit_name(),
            note,
            now_ms(),
            (&build.wasm, &build.data.to_string(), &build.mode),
        )
        .await?;
    audit::append(
        &mut tx,
        tenant_id,
        &actor.audit(
            "policy.publish",
            format!("policy/v{version}"),
            decision,
            serde_json::json!({"digest": digest, "module": build.digest(), "mode": build.mode,
                "tests": tests.len(), "diff": diff}),
        ),
    )
    .await?;
    tx.commit().await?;
    activate(app, tenant_id, version, engine, &build);
    Ok(Ok(Published {
        version,
        digest,
        mode: build.mode,
        tests,
        diff,
    }))
}

/// Makes an earlier version active again (audited with the diff from the version it replaces);
/// `decision` allowed `actor` `policy.publish`.
async fn rollback_to(
    app: &App,
    actor: &Actor,
    decision: &Decision,
    version: i64,
) -> AppResult<Option<String>> {
    let tenant_id = actor.tenant_id.as_str();
    let Some(target) = app.store.policy_version(tenant_id, version).await? else {
        return Ok(None);
    };
    let set = set_of(&target)?;
    let (engine, build) = load_version(app, tenant_id, &target).await?;
    let current = match history::active_version(app, tenant_id).await? {
        Some(v) => app.store.policy_version(tenant_id, v).await?,
        None => None,
    };
    let old = current
        .as_ref()
        .map(set_of)
        .transpose()?
        .unwrap_or_default();
    let diff = diff(&old, &set);
    let mut tx = app.store.begin().await?;
    app.store
        .activate_policy(&mut tx, tenant_id, version, now_ms())
        .await?;
    audit::append(
        &mut tx,
        tenant_id,
        &actor.audit(
            "policy.rollback",
            format!("policy/v{version}"),
            decision,
            serde_json::json!({"from": current.map(|c| c.version), "diff": diff}),
        ),
    )
    .await?;
    tx.commit().await?;
    activate(app, tenant_id, version, engine, &build);
    Ok(Some(diff))
}

/// The engine of a stored version: its module (rebuilt from its sources for versions published
/// before modules were stored).
async fn load_version(
    app: &App,
    tenant_id: &str,
    row: &PolicyVersionRow,
) -> anyhow::Result<(WasmEngine, Build)> {
    let build = match app.store.policy_module(tenant_id, row.version).await? {
        Some((wasm, data)) => Build {
            wasm,
            data: serde_json::from_str(&data)?,
            mode: row.mode.clone(),
        },
        None => {
            run_job(tenant_id, Job::Build, &set_of(row)?)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?
                .into_build()
                .map_err(|r| anyhow::anyhow!("{r}"))?
                .1
        }
    };
    // Compiling takes a moment even on the fast tier: off the async workers.
    tokio::task::spawn_blocking(move || {
        let engine = build.quick_engine(build.digest())?;
        Ok((engine, build))
    })
    .await?
}

/// Puts `engine` in force for the tenant; if it runs on the fast-compiling tier, compiles the
/// optimised build in the background and swaps it in while the version is still the one in force.
fn activate(app: &App, tenant_id: &str, version: i64, engine: WasmEngine, build: &Build) {
    let baseline = engine.tier() == Tier::Baseline;
    app.pdp.set_tenant_policy(
        tenant_id,
        Some(TenantPolicy {
            version,
            engine: Arc::new(engine),
        }),
    );
    if baseline {
        let (pdp, tenant, build) = (app.pdp.clone(), tenant_id.to_string(), build.clone());
        tokio::task::spawn_blocking(move || match build.engine(build.digest()) {
            Ok(engine) => pdp.upgrade_tenant_policy(
                &tenant,
                TenantPolicy {
                    version,
                    engine: Arc::new(engine),
                },
            ),
            Err(e) => {
                tracing::warn!(error = %e, "optimised policy build failed; the fast build stays")
            }
        });
    }
}

/// Brings this host's tenant policies to the active versions in the database, now.
pub async fn sync(app: &App) -> anyhow::Result<()> {
    for (tenant, version) in app.store.active_policies().await? {
        if app.pdp.tenant_version(&tenant) == Some(version) {
            continue;
        }
        let Some(row) = app.store.policy_version(&tenant, version).await? else {
            continue;
        };
        // A version that fails to load leaves the last good one in force.
        match load_version(app, &tenant, &row).await {
            Ok((engine, build)) => activate(app, &tenant, version, engine, &build),
            Err(e) => {
                tracing::error!(tenant = %tenant, version, error = %e, "policy version failed to load; keeping the last good one")
            }
        }
    }
    Ok(())
}

/// Polls the active versions (every 200 ms: one indexed read) so a publish on any host reaches
/// this one within a second, Winch compile included.
pub fn watch(app: Arc<App>) {
    tokio::spawn(async move {
        loop {
            if let Err(e) = sync(&app).await {
                tracing::warn!(error = %e, "policy watch failed");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::testing::Harness;

    fn pairs(q: &str) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
        url::form_urlencoded::parse(q.as_bytes()).collect()
    }

    /// The decision log and the version history, for the API, the web and the CLI alike:
    /// authorised before the filters are even read, and the filters refused by name.
    #[tokio::test]
    async fn the_decision_log_and_history_are_compliances_and_filters_are_checked_after_authorising()
     {
        let h = Harness::new().await;
        let compliance = h.member("compliance", false).await;
        let sales = h.member("sales", false).await;

        let e = decisions(&h.app, &sales, pairs("bogus=1"))
            .await
            .unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::Forbidden,
            "refused before the filters are read"
        );
        let e = decisions(&h.app, &compliance, pairs("bogus=1"))
            .await
            .unwrap_err();
        assert_eq!(
            (e.code, e.message.contains("unknown filter `bogus`")),
            ("invalid_query", true)
        );
        let e = decisions(&h.app, &compliance, pairs("limit=5&limit=6"))
            .await
            .unwrap_err();
        assert!(e.message.contains("given twice"), "{}", e.message);
        assert!(
            decisions(&h.app, &compliance, pairs("limit=5&allow=false"))
                .await
                .is_ok()
        );

        let history = history::history(&h.app, &compliance).await.unwrap();
        assert!(history.versions.is_empty() && history.active.is_none());
        let e = rollback(&h.app, &h.member("admin", true).await, 1)
            .await
            .unwrap();
        assert_eq!(e, None, "no version 1 to roll back to");
        assert_eq!(
            history::history(&h.app, &sales).await.unwrap_err().kind,
            ErrorKind::Forbidden
        );
        // A publish's note is checked the same way for every edge (a 501-character one is refused).
        let long = "n".repeat(MAX_NOTE_CHARS + 1);
        let e = publish(&h.app, &compliance, &PolicySet::default(), &long)
            .await
            .unwrap_err();
        assert_eq!(e.code, "invalid_request");
    }
}
