//! The request guard: who is calling. A bearer token (the `Authorization` header on HTTP, the
//! `authorization` field of the `connection_init` payload on `/ws`) becomes an [`Authn`] in
//! the request's data; resolvers that need a user ask for the [`Caller`] and answer
//! `UNAUTHENTICATED` otherwise. A token is accepted only while its user exists, is not
//! disabled and still has the token version the token carries.

use super::token::TokenKeys;
use crate::graphql::error::ApiError;
use jobs::store::entities::user;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use uuid::Uuid;

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A registered user: submits and reads their own jobs.
    User,
    /// An operator: sees every job, disables users, ingests and reprocesses.
    Admin,
}

impl Role {
    /// The stored spelling (`users.role`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    /// The role a stored or typed spelling names (case-insensitive).
    pub fn parse(s: &str) -> Option<Role> {
        match s.to_ascii_lowercase().as_str() {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    /// `users.id` (what `jobs` sees as the owner id).
    pub user_id: i64,
    /// The user's public id.
    pub public_id: Uuid,
    /// The username.
    pub username: String,
    /// The role now (from the database, not the token).
    pub role: Role,
}

impl Caller {
    /// True for admins.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// What the credentials of a request amount to.
#[derive(Debug, Clone, PartialEq)]
pub enum Authn {
    /// No credentials.
    Anonymous,
    /// Credentials that are not accepted (malformed, tampered, expired, revoked…).
    Invalid,
    /// A valid token of an enabled user.
    User(Caller),
}

impl Authn {
    /// The caller, or `UNAUTHENTICATED`.
    pub fn caller(&self) -> Result<&Caller, ApiError> {
        match self {
            Authn::User(c) => Ok(c),
            Authn::Anonymous => Err(ApiError::Unauthenticated(
                "sign in: send `Authorization: Bearer <token>`".into(),
            )),
            Authn::Invalid => Err(ApiError::Unauthenticated(
                "the token is invalid, expired or revoked".into(),
            )),
        }
    }

    /// The caller if an admin, `FORBIDDEN` for other users, `UNAUTHENTICATED` without one.
    pub fn admin(&self) -> Result<&Caller, ApiError> {
        let c = self.caller()?;
        if c.is_admin() {
            Ok(c)
        } else {
            Err(ApiError::Forbidden(
                "only administrators may do this".into(),
            ))
        }
    }
}

/// The [`Authn`] of a request from its `Authorization` value (`Bearer <token>`), checked
/// against the users table.
pub async fn authenticate(
    db: &DatabaseConnection,
    keys: &TokenKeys,
    authorization: Option<&str>,
) -> Authn {
    let Some(value) = authorization.map(str::trim).filter(|v| !v.is_empty()) else {
        return Authn::Anonymous;
    };
    let Some(token) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
    else {
        return Authn::Invalid;
    };
    let Ok(claims) = keys.check(token.trim()) else {
        return Authn::Invalid;
    };
    let row = match user::Entity::find()
        .filter(user::Column::PublicId.eq(claims.sub))
        .one(db)
        .await
    {
        Ok(Some(u)) => u,
        Ok(None) => return Authn::Invalid,
        Err(e) => {
            tracing::error!("cannot check a token's user: {e}");
            return Authn::Invalid;
        }
    };
    if row.disabled || row.token_version != claims.tv {
        return Authn::Invalid;
    }
    Authn::User(Caller {
        user_id: row.id,
        public_id: row.public_id,
        username: row.username,
        role: Role::parse(&row.role).unwrap_or(Role::User),
    })
}
