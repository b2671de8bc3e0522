//! How a domain error reads over HTTP: its kind becomes a status, its code and message the
//! `{"error": {"code", "message", "fields"}}` body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::error::{AppError, ErrorKind};

/// The HTTP status for each kind of domain error.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Rejected => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::UnsupportedFormat => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Gone => StatusCode::GONE,
        ErrorKind::Throttled => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Busy => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::PluginFailed => StatusCode::BAD_GATEWAY,
        ErrorKind::Integrity | ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The kind an HTTP-layer refusal (an extractor's rejection) belongs to.
pub fn kind_of(status: StatusCode) -> ErrorKind {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ErrorKind::TooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorKind::UnsupportedFormat,
        StatusCode::UNPROCESSABLE_ENTITY => ErrorKind::Rejected,
        StatusCode::UNAUTHORIZED => ErrorKind::Unauthenticated,
        StatusCode::FORBIDDEN => ErrorKind::Forbidden,
        StatusCode::NOT_FOUND => ErrorKind::NotFound,
        StatusCode::CONFLICT => ErrorKind::Conflict,
        StatusCode::TOO_MANY_REQUESTS => ErrorKind::Throttled,
        StatusCode::SERVICE_UNAVAILABLE => ErrorKind::Busy,
        s if s.is_client_error() => ErrorKind::Invalid,
        _ => ErrorKind::Internal,
    }
}

/// `e.status()` for code that renders errors itself (the web screens).
pub trait HttpStatus {
    fn status(&self) -> StatusCode;
}

impl HttpStatus for AppError {
    fn status(&self) -> StatusCode {
        status_of(self.kind)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = status_of(self.kind);
        with_status(self, status)
    }
}

/// The error's body under `status`: for refusals of the HTTP layer itself (a method the route
/// does not take) that no domain kind names.
pub fn with_status(e: AppError, status: StatusCode) -> Response {
    let mut body = serde_json::json!({"error": {"code": e.code, "message": e.message}});
    if !e.fields.is_empty() {
        body["error"]["fields"] = serde_json::json!(e.fields);
    }
    let mut resp = (status, axum::Json(body)).into_response();
    if let Some(s) = e.retry_after
        && let Ok(v) = s.to_string().parse()
    {
        resp.headers_mut().insert("retry-after", v);
    }
    resp
}
