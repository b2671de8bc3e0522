//! Plugin invocation: a staff member's call to a plugin's screen or action (authorised as
//! `plugin.render` / `plugin.act` first), and the call set-up that jobs and event deliveries
//! share: the component prepared once per host, the caller's grants, limits and scratch, and the
//! events of a successful call written to the outbox.

use std::sync::Arc;

use super::abi::latest::Param;
use super::abi::latest::guest::{ActionOutcome, ActionRequest, ScreenRequest};
use super::abi::latest::types::{ActingUser, Locale};
use super::abi::latest::ui::{Screen, ScreenRef};
use super::lifecycle::{Installed, clip, get};
use super::runtime::{CallError, Caller, Runtime};
use crate::app::{Actor, App};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::policy::Decision;
use crate::store::now_ms;

fn acting_user(actor: &Actor) -> (ActingUser, Locale) {
    let locale = if actor.lang.starts_with("zh") {
        Locale::ZhHans
    } else {
        Locale::En
    };
    (
        ActingUser {
            id: actor.user_id.clone(),
            roles: vec![actor.role.clone()],
        },
        locale,
    )
}

fn params_size(params: &[Param]) -> usize {
    params.iter().map(|p| p.name.len() + p.value.len()).sum()
}

/// An enabled plugin the actor may use with `action` (`plugin.render` or `plugin.act`).
async fn usable(
    app: &Arc<App>,
    actor: &Actor,
    name: &str,
    action: &str,
    target: &str,
    writes: Option<bool>,
) -> AppResult<(Installed, Decision)> {
    let decision = app
        .authorize(
            actor,
            action,
            crate::policy::Resource::of(
                "plugin",
                &actor.tenant_id,
                Some(format!("{}/{}", clip(name), clip(target))),
            ),
            serde_json::json!({"writes": writes}),
        )
        .await?;
    let p = get(app, &actor.tenant_id, name).await?;
    if p.row.state != "enabled" {
        return Err(AppError::conflict(format!("the plugin {name} is disabled")));
    }
    Ok((p, decision))
}

/// Runs a call against an installed plugin with its grants, limits and scratch directory; `now`
/// is the call's logical time (what `clock.now` answers).
pub(crate) async fn with_caller<R>(
    app: &Arc<App>,
    rt: &Arc<Runtime>,
    actor: &Actor,
    p: &Installed,
    now: i64,
    call: impl AsyncFnOnce(
        &super::runtime::Prepared,
        &Caller<'_>,
    ) -> Result<(R, Vec<crate::events::Emitted>), CallError>,
) -> AppResult<R> {
    // The component's bytes are read only when this host has not prepared it yet.
    let prepared = match rt.prepared(&p.row.sha256, &p.grants) {
        Some(prepared) => prepared,
        None => {
            let bytes = app
                .store
                .plugin_component(&actor.tenant_id, &p.row.name)
                .await?
                .ok_or_else(|| AppError::not_found(&format!("plugin {}", clip(&p.row.name))))?;
            // Compiling a component takes seconds (a Python one, many): off the async workers.
            let (rt, sha, grants) = (rt.clone(), p.row.sha256.clone(), p.grants.clone());
            tokio::task::spawn_blocking(move || rt.prepare(&sha, &bytes, &grants))
                .await
                .map_err(anyhow::Error::from)?
                .map_err(AppError::from)?
        }
    };
    let collections = p.collections();
    let caller = Caller {
        app,
        actor,
        plugin: &p.row.name,
        grants: &p.grants,
        collections: &collections,
        limits: &p.limits,
        now,
    };
    let (r, events) = call(&prepared, &caller).await.map_err(AppError::from)?;
    deliver_events(app, actor, &p.row.name, &events).await?;
    Ok(r)
}

/// Writes the events of a successful call to the tenant's outbox, queued for their subscribers.
async fn deliver_events(
    app: &App,
    actor: &Actor,
    plugin: &str,
    events: &[crate::events::Emitted],
) -> AppResult<()> {
    crate::events::emit(
        &app.store,
        &actor.tenant_id,
        plugin,
        events,
        &actor.through_plugin(plugin).audit_name(),
        app.pdp.version(),
    )
    .await
}

/// Renders one of a plugin's screens for the actor.
pub async fn render(
    app: &Arc<App>,
    rt: &Arc<Runtime>,
    actor: &Actor,
    name: &str,
    screen: &str,
    params: Vec<Param>,
) -> AppResult<Screen> {
    let (p, _) = usable(app, actor, name, "plugin.render", screen, None).await?;
    if !p.manifest.screens.iter().any(|s| s.name == screen) {
        return Err(AppError::not_found(&format!(
            "screen {} of plugin {name}",
            clip(screen)
        )));
    }
    if params_size(&params) > p.limits.input_bytes {
        return Err(too_large(p.limits.input_bytes));
    }
    let (user, locale) = acting_user(actor);
    let request = ScreenRequest {
        screen: screen.to_string(),
        params,
        locale,
        user,
    };
    let screen = with_caller(app, rt, actor, &p, now_ms(), async |prepared, caller| {
        rt.render(prepared, caller, request).await
    })
    .await?;
    super::screens::check(&screen, &p.manifest).map_err(|why| refused_screen(name, why))?;
    Ok(screen)
}

/// A screen the host will not show, as the plugin's failure (502): what it sent is wrong.
fn refused_screen(plugin: &str, why: String) -> AppError {
    AppError::from(CallError::Stopped {
        plugin: plugin.to_string(),
        reason: why,
    })
}

/// What a member submitted to an action: the screen it came from, the row it was on, its inputs.
pub struct Submission {
    pub origin: ScreenRef,
    pub row: Option<String>,
    pub inputs: Vec<Param>,
}

/// Runs one of a plugin's declared actions for the actor.
pub async fn act(
    app: &Arc<App>,
    rt: &Arc<Runtime>,
    actor: &Actor,
    name: &str,
    action: &str,
    submitted: Submission,
) -> AppResult<ActionOutcome> {
    let Submission {
        origin,
        row,
        inputs,
    } = submitted;
    let probe = get(app, &actor.tenant_id, name).await.ok();
    let writes = probe
        .as_ref()
        .and_then(|p| p.manifest.actions.iter().find(|a| a.name == action))
        .map(|a| a.writes);
    let (p, decision) = usable(app, actor, name, "plugin.act", action, writes).await?;
    if writes.is_none() {
        return Err(AppError::not_found(&format!(
            "action {} of plugin {name}",
            clip(action)
        )));
    }
    let size =
        params_size(&inputs) + params_size(&origin.params) + row.as_ref().map_or(0, String::len);
    if size > p.limits.input_bytes {
        return Err(too_large(p.limits.input_bytes));
    }
    let (user, locale) = acting_user(actor);
    let request = ActionRequest {
        action: action.to_string(),
        origin,
        row,
        inputs,
        locale,
        user,
    };
    let outcome = with_caller(app, rt, actor, &p, now_ms(), async |prepared, caller| {
        rt.act(prepared, caller, request).await
    })
    .await?;
    super::screens::check_outcome(&outcome, &p.manifest)
        .map_err(|why| refused_screen(name, why))?;
    app.audit
        .record(
            &actor.tenant_id,
            &actor.audit(
                "plugin.act",
                format!("plugin/{name}/{}", clip(action)),
                &decision,
                serde_json::json!({"writes": writes}),
            ),
        )
        .await?;
    Ok(outcome)
}

fn too_large(max: usize) -> AppError {
    AppError::new(
        ErrorKind::TooLarge,
        "too_large",
        format!("the request's parameters exceed the plugin's input limit of {max} bytes"),
    )
}
