//! The OpenAPI document of `/api/v1`, generated from the handlers' annotations.

use axum::Json;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "moadian",
        description = "Validate, queue and follow electronic invoices to the Iranian tax system (سامانه مودیان): the local service of the moadian tool."
    ),
    paths(
        super::handlers::health,
        super::handlers::validate,
        super::handlers::enqueue,
        super::handlers::list_invoices,
        super::handlers::get_invoice,
        super::handlers::explain,
        super::referrals::cancel,
        super::referrals::correct,
        super::referrals::sales_return,
        super::reports::report,
    ),
    components(schemas(super::problem::ProblemDetails))
)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
