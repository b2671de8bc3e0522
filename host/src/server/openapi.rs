//! The OpenAPI document, generated from the handlers' annotations.

use axum::Json;
use utoipa::OpenApi;

use super::{api, plugins, policies};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Broadcaster CRM API",
        description = "Customer records, sign-in and audit. Personal fields are encrypted at rest; every request is decided by policy and audited."
    ),
    paths(
        api::create_session,
        api::delete_session,
        api::me,
        api::mfa_start,
        api::mfa_confirm,
        api::create_token,
        api::create_customer,
        api::list_customers,
        api::get_customer,
        api::update_customer,
        api::delete_customer,
        api::add_interaction,
        api::list_interactions,
        api::audit_list,
        api::audit_verify,
        policies::check,
        policies::publish,
        policies::publish_bundle,
        policies::list,
        policies::show,
        policies::diff,
        policies::rollback,
        policies::decisions,
        plugins::list,
        plugins::install,
        plugins::upgrade,
        plugins::show,
        plugins::uninstall,
        plugins::enable,
        plugins::disable,
        plugins::limits,
        plugins::log,
        plugins::jobs,
        plugins::run_job,
        plugins::screen,
        plugins::action,
        plugins::trust_key,
        plugins::trust,
    ),
    components(schemas(crate::policy::Obligations))
)]
pub struct ApiDoc;

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
