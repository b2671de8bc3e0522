//! Policy administration: a compliance team's use cases on its tenant's policy set (test a
//! draft, publish a set or a bundle, roll back), each authorising first and the same for the
//! API, the web editor and the CLI; publishing's machinery (check → test → build in a policy job
//! → load → probe → store, atomic and audited); and the watcher that brings every host to each
//! tenant's active version.

pub mod bundle;
pub mod sandbox;
pub mod set;

pub use sandbox::{Job, JobError, Jobs};
pub use set::{Build, MAX_FILE_BYTES, MAX_FILES, PolicySet, Refusal, diff};

use std::sync::Arc;
use std::time::Duration;

use crate::app::{Actor, App};
use crate::audit;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::policy::{
    Engine, Input, RegoTestResult, Resource, Subject, TenantPolicy, Tier, WasmEngine,
    malformed_decision,
};
use crate::store::{PolicyVersionRow, now_ms};

/// Most characters in a version's note.
pub const MAX_NOTE_CHARS: usize = 500;

/// The tenant's policies as the resource of a decision.
fn policy_resource(actor: &Actor) -> Resource {
    Resource {
        kind: "policy".into(),
        tenant: actor.tenant_id.clone(),
        id: None,
        fields: None,
    }
}

/// Asks the decision point whether `actor` may `action` the tenant's policies; `channel` (`api`,
/// `web`, `cli`) is the input's `context.channel`.
pub async fn authorize(
    app: &App,
    actor: &Actor,
    action: &str,
    channel: &str,
) -> AppResult<crate::policy::Decision> {
    app.authorize(
        actor,
        action,
        policy_resource(actor),
        serde_json::json!({"channel": channel}),
    )
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

/// Runs a policy job, mapping the host's refusals to HTTP's.
pub async fn run_job(
    jobs: &Jobs,
    tenant: &str,
    job: Job,
    set: &PolicySet,
) -> AppResult<sandbox::Outcome> {
    jobs.run(tenant, job, set).await.map_err(|e| {
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

/// Checks a draft set and runs its tests (`policy.read`), without publishing it.
pub async fn test_draft(
    app: &App,
    actor: &Actor,
    channel: &str,
    set: &PolicySet,
) -> AppResult<Result<Vec<RegoTestResult>, Refusal>> {
    authorize(app, actor, "policy.read", channel).await?;
    Ok(run_job(&app.policy_jobs, &actor.tenant_id, Job::Test, set)
        .await?
        .into_tests())
}

/// Publishes a set as the tenant's next version (`policy.publish`): refused, naming the cause,
/// unless it compiles, its tests pass and its module answers with a decision.
pub async fn publish(
    app: &App,
    actor: &Actor,
    channel: &str,
    set: &PolicySet,
    note: &str,
) -> AppResult<Result<Published, Refusal>> {
    check_note(note)?;
    authorize(app, actor, "policy.publish", channel).await?;
    publish_set(app, &actor.tenant_id, set, None, &actor.audit_name(), note).await
}

/// Publishes an OPA bundle (`policy.publish`): its `/policy.wasm` decides.
pub async fn publish_bundle(
    app: &App,
    actor: &Actor,
    channel: &str,
    bytes: Vec<u8>,
    note: &str,
) -> AppResult<Result<Published, Refusal>> {
    check_note(note)?;
    authorize(app, actor, "policy.publish", channel).await?;
    // Unpacking is bounded work, but up to 32 MiB of it: off the async workers.
    let (set, build) = tokio::task::spawn_blocking(move || bundle::read(&bytes))
        .await
        .map_err(anyhow::Error::from)?
        .map_err(|e| AppError::bad_request("invalid_bundle", format!("{e:#}")))?;
    publish_set(
        app,
        &actor.tenant_id,
        &set,
        build,
        &actor.audit_name(),
        note,
    )
    .await
}

/// Makes an earlier version active again (`policy.publish`); `None` when there is no such version.
pub async fn rollback(
    app: &App,
    actor: &Actor,
    channel: &str,
    version: i64,
) -> AppResult<Option<String>> {
    authorize(app, actor, "policy.publish", channel).await?;
    rollback_to(app, &actor.tenant_id, version, &actor.audit_name()).await
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
/// The caller has authorised `author`: the API and web through [`publish`], the CLI as operator.
pub async fn publish_set(
    app: &App,
    tenant_id: &str,
    set: &PolicySet,
    prebuilt: Option<Build>,
    author: &str,
    note: &str,
) -> AppResult<Result<Published, Refusal>> {
    let (tests, build) = match prebuilt {
        Some(b) if set.files.is_empty() => (Vec::new(), b),
        Some(b) => match run_job(&app.policy_jobs, tenant_id, Job::Test, set)
            .await?
            .into_tests()
        {
            Ok(t) => (t, b),
            Err(r) => return Ok(Err(r)),
        },
        None => match run_job(&app.policy_jobs, tenant_id, Job::Build, set)
            .await?
            .into_build()
        {
            Ok(tb) => tb,
            Err(r) => return Ok(Err(r)),
        },
    };
    // Loaded before anything is written: a module that fails to load is refused, and the
    // version in force stays in force. A set that does not answer with a decision would deny
    // every request: refuse it now, with an input built as the decision point builds every
    // input, so the probe cannot drift from it. Both run tenant code: off the async workers.
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
    let engine = match loaded {
        Ok(e) => e,
        Err(e) => return Ok(Err(Refusal::Invalid(vec![e]))),
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
            author,
            note,
            now_ms(),
            (&build.wasm, &build.data.to_string(), &build.mode),
        )
        .await?;
    audit::append(
        &mut tx,
        tenant_id,
        &policy_event(
            app,
            author,
            "policy.publish",
            version,
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

fn policy_event(
    app: &App,
    author: &str,
    action: &str,
    version: i64,
    detail: serde_json::Value,
) -> audit::Event {
    audit::Event {
        actor: author.to_string(),
        action: action.to_string(),
        resource: format!("policy/v{version}"),
        decision: "allow".into(),
        policy_version: app.pdp.version().to_string(),
        detail,
    }
}

/// Makes an earlier version active again (audited with the diff from the version it replaces).
/// The caller has authorised `author` (see [`publish_set`]).
pub async fn rollback_to(
    app: &App,
    tenant_id: &str,
    version: i64,
    author: &str,
) -> AppResult<Option<String>> {
    let Some(target) = app.store.policy_version(tenant_id, version).await? else {
        return Ok(None);
    };
    let set = set_of(&target)?;
    let (engine, build) = load_version(app, tenant_id, &target).await?;
    let current = match app
        .store
        .active_policies()
        .await?
        .into_iter()
        .find(|(t, _)| t == tenant_id)
    {
        Some((_, v)) => app.store.policy_version(tenant_id, v).await?,
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
        &policy_event(
            app,
            author,
            "policy.rollback",
            version,
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
            run_job(&app.policy_jobs, tenant_id, Job::Build, &set_of(row)?)
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
