//! Accounts over GraphQL: `register`, `login`, `changePassword`, the admin's `disableUser`,
//! and `me`. Every mutation takes one `input` and returns a payload; login attempts are
//! rate-limited per account and per client address (`RATE_LIMITED`).

use super::enums::Role;
use super::error::ApiError;
use super::global_id::{NodeKind, encode};
use crate::auth::accounts::{self, AccountError};
use crate::auth::caller::{Authn, Role as AuthRole};
use crate::state::AppState;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use jobs::store::entities::user;

/// A registered user.
#[derive(Debug, Clone, SimpleObject)]
pub struct User {
    /// Global id.
    pub id: ID,
    /// Username (unique regardless of case).
    pub username: String,
    /// E-mail address.
    pub email: String,
    /// Role.
    pub role: Role,
    /// When registered.
    pub created_at: DateTime<Utc>,
}

impl From<user::Model> for User {
    fn from(m: user::Model) -> Self {
        Self {
            id: ID(encode(NodeKind::User, &m.public_id.to_string())),
            username: m.username,
            email: m.email,
            role: AuthRole::parse(&m.role).unwrap_or(AuthRole::User).into(),
            created_at: m.created_at,
        }
    }
}

/// A bearer token and the user it belongs to.
#[derive(Debug, Clone, SimpleObject)]
pub struct AuthPayload {
    /// Send as `Authorization: Bearer <token>` (HTTP) or `{"authorization": "Bearer <token>"}`
    /// in the `connection_init` payload (`/ws`).
    pub token: String,
    /// When the token expires.
    pub expires_at: DateTime<Utc>,
    /// The user.
    pub user: User,
}

/// `register` input.
#[derive(Debug, Clone, InputObject)]
pub struct RegisterInput {
    /// 3–32 letters, digits, `.`, `-`, `_`; unique regardless of case.
    pub username: String,
    /// E-mail address.
    pub email: String,
    /// 10–256 bytes.
    pub password: String,
}

/// `login` input.
#[derive(Debug, Clone, InputObject)]
pub struct LoginInput {
    /// Username (any case).
    pub username: String,
    /// Password.
    pub password: String,
}

/// `changePassword` input.
#[derive(Debug, Clone, InputObject)]
pub struct ChangePasswordInput {
    /// The current password.
    pub current_password: String,
    /// The new password (10–256 bytes).
    pub new_password: String,
}

/// `disableUser` input.
#[derive(Debug, Clone, InputObject)]
pub struct DisableUserInput {
    /// The user to disable.
    pub username: String,
}

/// The client address of the request, as the HTTP layer saw it.
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Db(e) => ApiError::from(e),
            AccountError::BadCredentials => ApiError::Unauthenticated(e.to_string()),
            AccountError::NoSuchUser(_) => ApiError::NotFound(e.to_string()),
            AccountError::UsernameTaken | AccountError::EmailTaken => {
                ApiError::Conflict(e.to_string())
            }
            AccountError::BadUsername => ApiError::field("username", e.to_string()),
            AccountError::BadEmail(_) => ApiError::field("email", e.to_string()),
            AccountError::Password(_) => ApiError::field("password", e.to_string()),
        }
    }
}

fn payload(st: &AppState, row: user::Model) -> Result<AuthPayload, ApiError> {
    let (token, expires_at) = st
        .auth
        .keys
        .issue(row.public_id, &row.role, row.token_version)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(AuthPayload {
        token,
        expires_at,
        user: row.into(),
    })
}

pub(crate) fn authn<'a>(ctx: &'a Context<'_>) -> &'a Authn {
    static ANONYMOUS: Authn = Authn::Anonymous;
    ctx.data_opt::<Authn>().unwrap_or(&ANONYMOUS)
}

/// Account queries.
#[derive(Default)]
pub struct AccountsQuery;

#[Object]
impl AccountsQuery {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        let st = ctx.data::<AppState>()?;
        let caller = authn(ctx).caller()?;
        let row = user::Entity::find_by_id(caller.user_id)
            .one(&st.db)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::Unauthenticated("the user no longer exists".into()))?;
        Ok(row.into())
    }
}

use sea_orm::EntityTrait;

/// Account mutations.
#[derive(Default)]
pub struct AccountsMutation;

#[Object]
impl AccountsMutation {
    /// Creates an account (role USER) and signs it in.
    async fn register(
        &self,
        ctx: &Context<'_>,
        input: RegisterInput,
    ) -> async_graphql::Result<AuthPayload> {
        let st = ctx.data::<AppState>()?;
        let row = accounts::create(
            &st.db,
            input.username.trim(),
            &input.email,
            input.password,
            AuthRole::User,
        )
        .await
        .map_err(ApiError::from)?;
        Ok(payload(st, row)?)
    }

    /// Signs in. Unknown users and wrong passwords get the same answer in the same time;
    /// too many attempts a minute for one account or from one address: `RATE_LIMITED`.
    async fn login(
        &self,
        ctx: &Context<'_>,
        input: LoginInput,
    ) -> async_graphql::Result<AuthPayload> {
        let st = ctx.data::<AppState>()?;
        let addr = ctx
            .data_opt::<ClientAddr>()
            .map(|a| a.0.clone())
            .unwrap_or_default();
        let keys = [
            format!("user:{}", accounts::username_key(input.username.trim())),
            format!("addr:{addr}"),
        ];
        if !st.auth.limiter.allow(&keys) {
            return Err(ApiError::RateLimited(
                "too many login attempts; wait a minute and try again".into(),
            )
            .into());
        }
        let row = accounts::login(&st.db, input.username.trim(), input.password)
            .await
            .map_err(ApiError::from)?;
        Ok(payload(st, row)?)
    }

    /// Changes the signed-in user's password; every older token stops working.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        input: ChangePasswordInput,
    ) -> async_graphql::Result<AuthPayload> {
        let st = ctx.data::<AppState>()?;
        let caller = authn(ctx).caller()?;
        let row = accounts::change_password(
            &st.db,
            caller.user_id,
            input.current_password,
            input.new_password,
        )
        .await
        .map_err(ApiError::from)?;
        Ok(payload(st, row)?)
    }

    /// Disables a user and revokes their tokens (admins only).
    async fn disable_user(
        &self,
        ctx: &Context<'_>,
        input: DisableUserInput,
    ) -> async_graphql::Result<User> {
        let st = ctx.data::<AppState>()?;
        authn(ctx).admin()?;
        let row = accounts::disable(&st.db, &input.username)
            .await
            .map_err(ApiError::from)?;
        Ok(row.into())
    }
}
