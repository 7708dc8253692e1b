//! Password hashing: argon2id with the OWASP parameters (m = 19 MiB, t = 2, p = 1, the
//! `argon2` crate's defaults), always on the blocking pool. Verifying an unknown user's
//! password runs against a dummy hash so that it takes the same time as a wrong password.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use std::sync::OnceLock;

/// Shortest accepted password, bytes.
pub const MIN_PASSWORD_BYTES: usize = 10;
/// Longest accepted password, bytes.
pub const MAX_PASSWORD_BYTES: usize = 256;

/// Why a password cannot be used or hashed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// Too short or too long.
    #[error("passwords are {MIN_PASSWORD_BYTES}–{MAX_PASSWORD_BYTES} bytes long")]
    Length,
    /// The hasher failed (should not happen).
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Checks the length rule.
pub fn check_length(password: &str) -> Result<(), PasswordError> {
    if (MIN_PASSWORD_BYTES..=MAX_PASSWORD_BYTES).contains(&password.len()) {
        Ok(())
    } else {
        Err(PasswordError::Length)
    }
}

fn hash_now(password: &str) -> Result<String, PasswordError> {
    let h: argon2::PasswordHash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(h.to_string())
}

/// The PHC string of an argon2id hash of `password` (computed on the blocking pool).
pub async fn hash(password: String) -> Result<String, PasswordError> {
    check_length(&password)?;
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|e| PasswordError::Hash(e.to_string()))?
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_now("not-a-password-of-anyone").unwrap_or_default())
}

/// True when `password` matches `phc`; with `phc = None` (unknown user) it verifies against
/// a dummy hash and returns false, taking the same time.
pub async fn verify(password: String, phc: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let (target, real) = match &phc {
            Some(p) => (p.as_str(), true),
            None => (dummy_hash(), false),
        };
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), target)
            .is_ok();
        ok && real
    })
    .await
    .unwrap_or(false)
}

/// Computes the dummy hash now, so that the first unknown-user login is not faster or
/// slower than the others.
pub fn warm_up() {
    let _ = dummy_hash();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_never_match() {
        let h = hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery".into(), Some(h.clone())).await);
        assert!(!verify("wrong horse battery".into(), Some(h)).await);
        assert!(!verify("not-a-password-of-anyone".into(), None).await);
        assert!(hash("short".into()).await.is_err());
        assert!(hash("x".repeat(257)).await.is_err());
    }
}
