//! Accounts and tokens: argon2id password hashing off the async runtime ([`password`]), HS256
//! JWTs with a per-user token version ([`token`]), the login rate limit ([`rate_limit`]) and
//! the request guard that turns a bearer token into the [`Caller`] of a request
//! ([`caller`]). `jobs` never sees any of this: only an owner id.

pub mod accounts;
pub mod caller;
pub mod password;
pub mod rate_limit;
pub mod token;

pub use caller::{Authn, Caller, ImageScope, Role};
