//! `users`: registered users (argon2id password hashes).

use sea_orm::entity::prelude::*;

/// One user.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Public id.
    #[sea_orm(unique)]
    pub public_id: Uuid,
    /// Login name.
    #[sea_orm(unique)]
    pub username: String,
    /// E-mail address.
    #[sea_orm(unique)]
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// `USER` or `ADMIN`.
    pub role: String,
    /// When registered.
    pub created_at: ChronoDateTimeUtc,
    /// The username folded to lower case: usernames are unique regardless of case.
    #[sea_orm(unique)]
    pub username_key: Option<String>,
    /// Tokens carry this number; raising it (password change, disabling) revokes every
    /// token issued before.
    pub token_version: i32,
    /// A disabled user can neither log in nor use an older token.
    pub disabled: bool,
}

/// Relations are queried explicitly in `store`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
