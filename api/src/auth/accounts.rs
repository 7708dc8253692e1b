//! Account operations shared by the GraphQL mutations and the `user` command: register,
//! log in, change a password, set a role, disable. Usernames are unique regardless of case
//! (`users.username_key`); passwords are stored only as argon2id hashes.

use super::caller::Role;
use super::password::{self, PasswordError};
use chrono::Utc;
use jobs::store::entities::user;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, IntoActiveModel,
    QueryFilter, Set,
};
use uuid::Uuid;

/// Longest username, characters.
pub const MAX_USERNAME_CHARS: usize = 32;

/// Why an account operation was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccountError {
    /// The username is malformed.
    #[error("usernames are 3–{MAX_USERNAME_CHARS} characters: letters, digits, '.', '-' and '_'")]
    BadUsername,
    /// The e-mail address is malformed.
    #[error("'{0}' is not an e-mail address")]
    BadEmail(String),
    /// The password breaks the length rule.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// Someone has this username (in any case) already.
    #[error("the username is taken")]
    UsernameTaken,
    /// Someone registered with this e-mail address already.
    #[error("the e-mail address is already registered")]
    EmailTaken,
    /// Unknown user, wrong password or disabled account (deliberately one answer).
    #[error("wrong username or password")]
    BadCredentials,
    /// No such user (operator commands).
    #[error("no user '{0}'")]
    NoSuchUser(String),
    /// Database failure.
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
}

/// The case-folded key a username is unique by.
pub fn username_key(username: &str) -> String {
    username.to_lowercase()
}

fn check_username(username: &str) -> Result<(), AccountError> {
    let n = username.chars().count();
    let ok_chars = username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if (3..=MAX_USERNAME_CHARS).contains(&n) && ok_chars {
        Ok(())
    } else {
        Err(AccountError::BadUsername)
    }
}

fn check_email(email: &str) -> Result<String, AccountError> {
    let e = email.trim();
    let valid = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        })
        && !e.chars().any(char::is_whitespace);
    if valid {
        Ok(e.to_lowercase())
    } else {
        Err(AccountError::BadEmail(email.to_string()))
    }
}

/// Finds a user by username, regardless of case.
pub async fn find_by_username(
    db: &DatabaseConnection,
    username: &str,
) -> Result<Option<user::Model>, sea_orm::DbErr> {
    user::Entity::find()
        .filter(user::Column::UsernameKey.eq(username_key(username)))
        .one(db)
        .await
}

/// Creates an account (role `role`).
pub async fn create(
    db: &DatabaseConnection,
    username: &str,
    email: &str,
    password: String,
    role: Role,
) -> Result<user::Model, AccountError> {
    check_username(username)?;
    let email = check_email(email)?;
    password::check_length(&password)?;
    let key = username_key(username);
    let clash = user::Entity::find()
        .filter(
            Condition::any()
                .add(user::Column::UsernameKey.eq(key.clone()))
                .add(user::Column::Email.eq(email.clone())),
        )
        .one(db)
        .await?;
    if let Some(c) = clash {
        return Err(if c.username_key.as_deref() == Some(key.as_str()) {
            AccountError::UsernameTaken
        } else {
            AccountError::EmailTaken
        });
    }
    let hash = password::hash(password).await?;
    let row = user::ActiveModel {
        public_id: Set(Uuid::new_v4()),
        username: Set(username.to_string()),
        username_key: Set(Some(key)),
        email: Set(email),
        password_hash: Set(hash),
        role: Set(role.as_str().to_string()),
        created_at: Set(Utc::now()),
        token_version: Set(0),
        disabled: Set(false),
        ..Default::default()
    }
    .insert(db)
    .await;
    match row {
        Ok(r) => Ok(r),
        // A concurrent registration won the unique index.
        Err(e) if e.to_string().to_lowercase().contains("unique") => {
            Err(AccountError::UsernameTaken)
        }
        Err(e) => Err(e.into()),
    }
}

/// The user whose username and password these are; unknown users, wrong passwords and
/// disabled accounts all get [`AccountError::BadCredentials`] after the same work.
pub async fn login(
    db: &DatabaseConnection,
    username: &str,
    password: String,
) -> Result<user::Model, AccountError> {
    let row = find_by_username(db, username).await?;
    let ok = password::verify(password, row.as_ref().map(|r| r.password_hash.clone())).await;
    match row {
        Some(r) if ok && !r.disabled => Ok(r),
        _ => Err(AccountError::BadCredentials),
    }
}

/// Raises a user's token version: every token issued before stops working.
async fn bump_token_version(
    db: &DatabaseConnection,
    row: user::Model,
    change: impl FnOnce(&mut user::ActiveModel),
) -> Result<user::Model, AccountError> {
    let tv = row.token_version + 1;
    let mut am = row.into_active_model();
    am.token_version = Set(tv);
    change(&mut am);
    Ok(am.update(db).await?)
}

/// Changes the caller's password after checking the current one; older tokens are revoked.
pub async fn change_password(
    db: &DatabaseConnection,
    user_id: i64,
    current: String,
    new: String,
) -> Result<user::Model, AccountError> {
    password::check_length(&new)?;
    let row = user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or(AccountError::BadCredentials)?;
    if !password::verify(current, Some(row.password_hash.clone())).await {
        return Err(AccountError::BadCredentials);
    }
    let hash = password::hash(new).await?;
    bump_token_version(db, row, |am| am.password_hash = Set(hash)).await
}

/// Disables a user and revokes their tokens.
pub async fn disable(db: &DatabaseConnection, username: &str) -> Result<user::Model, AccountError> {
    let row = find_by_username(db, username)
        .await?
        .ok_or_else(|| AccountError::NoSuchUser(username.to_string()))?;
    bump_token_version(db, row, |am| am.disabled = Set(true)).await
}

/// Sets a user's role (tokens stay valid: the role is read from the database per request).
pub async fn set_role(
    db: &DatabaseConnection,
    username: &str,
    role: Role,
) -> Result<user::Model, AccountError> {
    let row = find_by_username(db, username)
        .await?
        .ok_or_else(|| AccountError::NoSuchUser(username.to_string()))?;
    let n = user::Entity::update_many()
        .col_expr(user::Column::Role, Expr::value(role.as_str()))
        .filter(user::Column::Id.eq(row.id))
        .exec(db)
        .await?;
    debug_assert_eq!(n.rows_affected, 1);
    Ok(user::Model {
        role: role.as_str().to_string(),
        ..row
    })
}
