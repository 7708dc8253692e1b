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

/// Which images a caller may see. Previews are public; a user's reconstruction is its
/// owner's (and the admins'): listings leave other users' images out and lookups answer
/// `NOT_FOUND`. (Download and script URLs embed the image's random id and work for whoever
/// holds the link.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageScope {
    /// Previews only (no or an invalid token).
    Previews,
    /// Previews and this user's own images.
    PreviewsAndOwn(i64),
    /// Everything (admins, and links that carry an image's id).
    All,
}

impl ImageScope {
    /// Whether an image row is visible in this scope.
    pub fn allows(self, m: &jobs::store::entities::image::Model) -> bool {
        let preview = m.kind == jobs::kinds::ImageKind::Preview.as_str();
        match self {
            ImageScope::Previews => preview,
            ImageScope::PreviewsAndOwn(user) => preview || m.owner_id == Some(user),
            ImageScope::All => true,
        }
    }

    /// The same as a query condition (`None`: no restriction).
    pub fn condition(self) -> Option<sea_orm::Condition> {
        use jobs::store::entities::image;
        let preview = image::Column::Kind.eq(jobs::kinds::ImageKind::Preview.as_str());
        match self {
            ImageScope::Previews => Some(sea_orm::Condition::all().add(preview)),
            ImageScope::PreviewsAndOwn(user) => Some(
                sea_orm::Condition::any()
                    .add(preview)
                    .add(image::Column::OwnerId.eq(user)),
            ),
            ImageScope::All => None,
        }
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

    /// The images this caller may see (never an error: without a valid token, previews).
    pub fn image_scope(&self) -> ImageScope {
        match self {
            Authn::User(c) if c.is_admin() => ImageScope::All,
            Authn::User(c) => ImageScope::PreviewsAndOwn(c.user_id),
            Authn::Anonymous | Authn::Invalid => ImageScope::Previews,
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
