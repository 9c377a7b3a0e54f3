//! Access tokens (JWT, HS256, short-lived) and refresh tokens (opaque, 256 random bits, stored hashed).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use types::{Millis, SessionId, UserId};

/// Prefix of every refresh token, so that secret scanners and people can recognise one.
const REFRESH_PREFIX: &str = "prt_";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    /// The user id.
    sub: String,
    exp: i64,
    iat: i64,
    /// The session id.
    sid: String,
    /// Unique per token, so that no two tokens are alike even within one second. Not required on input.
    #[serde(default)]
    jti: String,
}

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    Expired,
    Invalid,
}

pub(crate) struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
    issuer: String,
    audience: String,
    validation: Validation,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("Keys").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl Keys {
    pub(crate) fn new(secret: &[u8], issuer: &str, audience: &str) -> Self {
        // The key id names the key without revealing it, so that a later key rotation can tell old tokens
        // from new ones.
        let kid = hex(&Sha256::digest(secret)[..8]);
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            kid,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            validation,
        }
    }

    pub(crate) fn issue(
        &self,
        user: UserId,
        session: SessionId,
        now: Millis,
        expires_at: Millis,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user.to_string(),
            exp: expires_at.0.div_euclid(1000),
            iat: now.0.div_euclid(1000),
            sid: session.to_string(),
            jti: {
                let mut id = [0u8; 12];
                rand::rng().fill_bytes(&mut id);
                URL_SAFE_NO_PAD.encode(id)
            },
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding)
    }

    pub(crate) fn verify(&self, token: &str) -> Result<(UserId, SessionId), Refused> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Refused::Invalid)?;
        if header.alg != Algorithm::HS256 || header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err(Refused::Invalid);
        }
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => Refused::Expired,
                _ => Refused::Invalid,
            })?;
        let user = data.claims.sub.parse().map_err(|_| Refused::Invalid)?;
        let session = data.claims.sid.parse().map_err(|_| Refused::Invalid)?;
        Ok((user, session))
    }
}

/// A new refresh token and the hash to store.
pub(crate) fn new_refresh_token() -> (String, [u8; 32]) {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = format!("{REFRESH_PREFIX}{}", URL_SAFE_NO_PAD.encode(secret));
    let hash = hash_refresh_token(&token);
    (token, hash)
}

/// What is stored for a refresh token. The token has 256 random bits, so a fast hash is enough: nobody can
/// guess a preimage, and the database never holds a usable token.
pub(crate) fn hash_refresh_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether `token` is shaped like a refresh token (saves a query for garbage).
pub(crate) fn looks_like_refresh_token(token: &str) -> bool {
    token.strip_prefix(REFRESH_PREFIX).is_some_and(|rest| rest.len() == 43)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::new(b"0123456789abcdef0123456789abcdef", "parley", "parley")
    }

    #[test]
    fn issued_tokens_verify() -> Result<(), jsonwebtoken::errors::Error> {
        let (user, session) = (UserId::new(), SessionId::new());
        let now = Millis::now();
        let token = keys().issue(user, session, now, now.plus(std::time::Duration::from_secs(60)))?;
        assert_eq!(keys().verify(&token), Ok((user, session)));
        Ok(())
    }

    #[test]
    fn expired_tokens_are_told_apart() -> Result<(), jsonwebtoken::errors::Error> {
        let now = Millis::now();
        let token = keys().issue(UserId::new(), SessionId::new(), Millis(now.0 - 120_000), Millis(now.0 - 60_000))?;
        assert_eq!(keys().verify(&token), Err(Refused::Expired));
        Ok(())
    }

    #[test]
    fn other_keys_and_garbage_are_refused() -> Result<(), jsonwebtoken::errors::Error> {
        let now = Millis::now();
        let other = Keys::new(b"another secret, also 32 bytes...", "parley", "parley");
        let token = other.issue(UserId::new(), SessionId::new(), now, now.plus(std::time::Duration::from_secs(60)))?;
        assert_eq!(keys().verify(&token), Err(Refused::Invalid));
        assert_eq!(keys().verify("not.a.jwt"), Err(Refused::Invalid));
        assert_eq!(keys().verify(""), Err(Refused::Invalid));
        Ok(())
    }

    #[test]
    fn refresh_tokens_are_random_and_recognisable() {
        let (a, hash_a) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a, b);
        assert!(looks_like_refresh_token(&a), "{a}");
        assert!(!looks_like_refresh_token("prt_short"));
        assert_eq!(hash_refresh_token(&a), hash_a);
    }
}
