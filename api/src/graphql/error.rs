//! The one error type of the API: every failure a client sees is a GraphQL error with
//! `extensions.code` and a human message; internal causes are logged, never leaked.

use async_graphql::ErrorExtensions;

/// An error returned to GraphQL clients.
///
/// It deliberately does not implement `Display`: async-graphql converts any `Display` type
/// into an error *without* `extensions.code`, so the only way out is [`From<ApiError>`],
/// which always sets the code.
#[derive(Debug)]
#[non_exhaustive]
pub enum ApiError {
    /// The request is wrong (`BAD_USER_INPUT`).
    BadUserInput(String),
    /// No or an invalid token (`UNAUTHENTICATED`).
    Unauthenticated(String),
    /// Authenticated but not allowed (`FORBIDDEN`).
    Forbidden(String),
    /// The thing asked for does not exist (`NOT_FOUND`).
    NotFound(String),
    /// It conflicts with the current state (`CONFLICT`).
    Conflict(String),
    /// Our fault (`INTERNAL`); the cause is logged, the client gets a generic message.
    Internal(String),
    /// The database cannot be reached right now (`UNAVAILABLE`); the cause is logged, the
    /// client is told to try again.
    Unavailable(String),
    /// One input field is wrong (`BAD_USER_INPUT` with `extensions.field`).
    BadField {
        /// The input field, in GraphQL spelling (e.g. `timeRange`, `background.fileUid`).
        field: String,
        /// Why.
        message: String,
    },
    /// Too many attempts in a short time (`RATE_LIMITED`).
    RateLimited(String),
    /// A per-user limit is reached (`QUOTA_EXCEEDED`).
    QuotaExceeded(String),
}

impl ApiError {
    /// A `BAD_USER_INPUT` error naming the input field at fault.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::BadField {
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// The message shown to the client (never the internal cause).
    pub fn message(&self) -> &str {
        match self {
            ApiError::BadUserInput(m)
            | ApiError::Unauthenticated(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::RateLimited(m)
            | ApiError::QuotaExceeded(m)
            | ApiError::BadField { message: m, .. } => m,
            ApiError::Internal(_) => "internal error",
            ApiError::Unavailable(_) => "the archive database is unavailable; try again shortly",
        }
    }

    /// The `extensions.code` value.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadUserInput(_) | ApiError::BadField { .. } => "BAD_USER_INPUT",
            ApiError::RateLimited(_) => "RATE_LIMITED",
            ApiError::QuotaExceeded(_) => "QUOTA_EXCEEDED",
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::Internal(_) => "INTERNAL",
            ApiError::Unavailable(_) => "UNAVAILABLE",
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        if jobs::store::is_unavailable(&e) {
            ApiError::Unavailable(format!("database: {e}"))
        } else {
            ApiError::Internal(format!("database: {e}"))
        }
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        match &e {
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "internal error in a GraphQL request")
            }
            ApiError::Unavailable(cause) => {
                tracing::warn!(%cause, "database unavailable during a GraphQL request")
            }
            _ => {}
        }
        let code = e.code();
        let field = match &e {
            ApiError::BadField { field, .. } => Some(field.clone()),
            _ => None,
        };
        async_graphql::Error::new(e.message()).extend_with(|_, ext| {
            ext.set("code", code);
            if let Some(f) = &field {
                ext.set("field", f.as_str());
            }
        })
    }
}
