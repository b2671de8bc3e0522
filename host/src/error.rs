//! One error type for the whole request path, rendered as `{"error": {"code", "message"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds a client should wait (sign-in throttling).
    pub retry_after: Option<u64>,
    /// The refused input fields, each with its message (a plugin's `invalid`, a form's rules).
    pub fields: Vec<FieldIssue>,
}

/// One refused input field.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct FieldIssue {
    pub field: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_zh_hans: Option<String>,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            fields: Vec::new(),
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }
    pub fn forbidden(reasons: &[String]) -> Self {
        let message = if reasons.is_empty() {
            "the policy denies this request".to_string()
        } else {
            format!("the policy denies this request: {}", reasons.join("; "))
        };
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }
    pub fn integrity() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "integrity_error",
            "a stored value failed its integrity check and was not returned",
        )
    }
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; it has been logged",
        )
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for AppError {}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        // sqlx errors carry statements and codes, never bound values, so they are safe to log.
        tracing::error!(error = %e, "database error");
        Self::internal()
    }
}

impl From<crate::vault::VaultError> for AppError {
    fn from(e: crate::vault::VaultError) -> Self {
        tracing::error!(error = %e, "vault error");
        Self::integrity()
    }
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::internal()
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        if !self.fields.is_empty() {
            body["error"]["fields"] = serde_json::json!(self.fields);
        }
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = s.to_string().parse()
        {
            resp.headers_mut().insert("retry-after", v);
        }
        resp
    }
}
