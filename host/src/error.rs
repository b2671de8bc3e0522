//! One error type for every use case: a domain kind, a stable code and a message without
//! personal data. The edges translate the kind: `server` to an HTTP status, the plugin
//! capabilities to the interface's `error`.

/// What went wrong, in the domain's words; no layer below `server` knows about HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is malformed or breaks a rule (400).
    Invalid,
    /// The input is well formed but cannot be accepted as it is: a package, a plugin's refusal (422).
    Rejected,
    /// The input is bigger than its limit (413).
    TooLarge,
    /// The input is not in a format this endpoint reads (415).
    UnsupportedFormat,
    /// No valid credential came with the request (401).
    Unauthenticated,
    /// The policy, or a rule about who may do this, refuses (403).
    Forbidden,
    NotFound,
    /// The request contradicts the current state (409).
    Conflict,
    /// What was asked for existed but is gone for good: an expired export archive (410).
    Gone,
    /// A rate limit or a per-tenant share is used up; `retry_after` may say when to come back (429).
    Throttled,
    /// This host is too busy right now (503).
    Busy,
    /// A plugin failed or broke its limits while serving the request (502).
    PluginFailed,
    /// A stored value failed its integrity check (500, never returned).
    Integrity,
    /// A fault on our side; details are logged, never returned (500).
    Internal,
}

#[derive(Debug)]
pub struct AppError {
    pub kind: ErrorKind,
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
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
            retry_after: None,
            fields: Vec::new(),
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, code, message)
    }
    pub fn rejected(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Rejected, code, message)
    }
    pub fn too_large(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::TooLarge, code, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthenticated, "unauthenticated", message)
    }
    pub fn forbidden(reasons: &[String]) -> Self {
        let message = if reasons.is_empty() {
            "the policy denies this request".to_string()
        } else {
            format!("the policy denies this request: {}", reasons.join("; "))
        };
        Self::new(ErrorKind::Forbidden, "forbidden", message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(
            ErrorKind::NotFound,
            "not_found",
            format!("{what} not found"),
        )
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, "conflict", message)
    }
    pub fn throttled(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Throttled, code, message)
    }
    pub fn busy(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Busy, code, message)
    }
    pub fn integrity() -> Self {
        Self::new(
            ErrorKind::Integrity,
            "integrity_error",
            "a stored value failed its integrity check and was not returned",
        )
    }
    pub fn internal() -> Self {
        Self::new(
            ErrorKind::Internal,
            "internal",
            "internal error; it has been logged",
        )
    }
    /// The caller's input was refused (as opposed to a fault or a refusal of the caller).
    pub fn is_input_error(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Invalid
                | ErrorKind::Rejected
                | ErrorKind::TooLarge
                | ErrorKind::UnsupportedFormat
                | ErrorKind::Conflict
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
