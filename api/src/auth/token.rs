//! Bearer tokens: JWT HS256 with `sub` (the user's public id), `role`, `exp`, `iat` and `tv`
//! (the user's token version: raising it revokes every older token). Only HS256 is accepted,
//! so `alg: none` and other algorithms are refused.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Shortest accepted secret, bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// The claims of a token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's public id.
    pub sub: Uuid,
    /// `user` or `admin` when issued (the database's role is what counts).
    pub role: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issue time, seconds since the epoch.
    pub iat: i64,
    /// The user's token version when issued.
    pub tv: i32,
}

/// Why a token is refused (all are `UNAUTHENTICATED` to the client).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Malformed, tampered, wrong algorithm, wrong secret or expired.
    #[error("invalid or expired token")]
    Invalid,
    /// Signing failed.
    #[error("cannot sign a token: {0}")]
    Sign(String),
}

/// Signs and checks tokens with one HMAC secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl_seconds: i64,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(***)")
    }
}

impl TokenKeys {
    /// Keys for `secret`, issuing tokens valid for `ttl_seconds`.
    pub fn new(secret: &[u8], ttl_seconds: u64) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl_seconds: i64::try_from(ttl_seconds).unwrap_or(i64::MAX / 2),
        }
    }

    /// A token for a user; returns it with its expiry.
    pub fn issue(
        &self,
        sub: Uuid,
        role: &str,
        tv: i32,
    ) -> Result<(String, DateTime<Utc>), TokenError> {
        let now = Utc::now();
        let exp = now + chrono::Duration::seconds(self.ttl_seconds);
        let claims = Claims {
            sub,
            role: role.to_string(),
            exp: exp.timestamp(),
            iat: now.timestamp(),
            tv,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| TokenError::Sign(e.to_string()))?;
        Ok((token, exp))
    }

    /// Signs arbitrary claims (tests make expired tokens with it).
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| TokenError::Sign(e.to_string()))
    }

    /// The claims of a valid, unexpired HS256 token signed with this secret.
    pub fn check(&self, token: &str) -> Result<Claims, TokenError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        v.set_required_spec_claims(&["exp", "sub", "iat"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &v)
            .map(|d| d.claims)
            .map_err(|_| TokenError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let keys = TokenKeys::new(&[7u8; 32], 3600);
        let id = Uuid::new_v4();
        let (t, exp) = keys.issue(id, "user", 3).unwrap();
        let c = keys.check(&t).unwrap();
        assert_eq!((c.sub, c.tv, c.role.as_str()), (id, 3, "user"));
        assert_eq!(c.exp, exp.timestamp());
        // Wrong secret, tampered payload, expired, alg none.
        assert!(TokenKeys::new(&[8u8; 32], 3600).check(&t).is_err());
        let mut parts: Vec<String> = t.split('.').map(str::to_string).collect();
        parts[1] = parts[1].replacen('e', "f", 1);
        assert!(keys.check(&parts.join(".")).is_err());
        let old = Claims {
            exp: Utc::now().timestamp() - 10,
            ..c.clone()
        };
        assert!(keys.check(&keys.sign(&old).unwrap()).is_err());
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let none = format!(
            "{}.{}.",
            b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
            b64.encode(serde_json::to_string(&c).unwrap())
        );
        assert!(keys.check(&none).is_err());
    }
}
