//! Password hashing: argon2id with OWASP's parameters (m = 19456 KiB, t = 2, p = 1) in PHC strings.
//!
//! Hashing is deliberately slow (~50 ms of one core), so callers run it on the blocking pool, never on the
//! async workers.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verified {
    /// Correct, and the hash uses the current parameters.
    Yes,
    /// Correct, but the hash is weaker than the current parameters: store a new one.
    YesButRehash,
    /// Wrong password (or a hash that cannot be read).
    No,
}

#[derive(Debug, Clone)]
pub(crate) struct Hasher {
    argon: Argon2<'static>,
    /// A hash of nothing in particular, checked when the account does not exist so that "no such user" takes
    /// as long as "wrong password".
    dummy: String,
}

impl Hasher {
    pub(crate) fn new() -> Result<Self, argon2::password_hash::Error> {
        Self::with_params(Params::DEFAULT)
    }

    /// A hasher with other parameters (only tests make weaker hashes on purpose).
    pub(crate) fn with_params(params: Params) -> Result<Self, argon2::password_hash::Error> {
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let dummy = argon.hash_password(b"parley dummy password")?.to_string();
        Ok(Self { argon, dummy })
    }

    pub(crate) fn hash(&self, password: &str) -> Result<String, argon2::password_hash::Error> {
        Ok(self.argon.hash_password(password.as_bytes())?.to_string())
    }

    pub(crate) fn verify(&self, password: &str, phc: &str) -> Verified {
        let Ok(parsed) = PasswordHash::new(phc) else {
            tracing::warn!("stored password hash is not a PHC string");
            return Verified::No;
        };
        // Verification uses the parameters stored in the hash, whatever they are.
        if self.argon.verify_password(password.as_bytes(), phc).is_err() {
            return Verified::No;
        }
        if self.is_weaker(&parsed) { Verified::YesButRehash } else { Verified::Yes }
    }

    /// Spends the same effort as [`Self::verify`] on an existing account, and always fails.
    pub(crate) fn verify_dummy(&self, password: &str) -> Verified {
        let _ = self.argon.verify_password(password.as_bytes(), self.dummy.as_str());
        Verified::No
    }

    fn is_weaker(&self, stored: &PasswordHash) -> bool {
        let current = self.argon.params();
        let Ok(params) = Params::try_from(stored) else {
            return true;
        };
        stored.algorithm.as_str() != "argon2id"
            || stored.version != Some(u32::from(Version::V0x13))
            || params.m_cost() < current.m_cost()
            || params.t_cost() < current.t_cost()
            || params.p_cost() < current.p_cost()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_phc_strings_with_owasp_parameters() -> Result<(), argon2::password_hash::Error> {
        let hasher = Hasher::new()?;
        let phc = hasher.hash("correct horse")?;
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert_eq!(hasher.verify("correct horse", &phc), Verified::Yes);
        assert_eq!(hasher.verify("correct horse ", &phc), Verified::No);
        Ok(())
    }

    #[test]
    fn weaker_hashes_verify_but_ask_for_a_rehash() -> Result<(), argon2::password_hash::Error> {
        let weak = Hasher::with_params(Params::new(1024, 1, 1, None)?)?;
        let phc = weak.hash("correct horse")?;
        let hasher = Hasher::new()?;
        assert_eq!(hasher.verify("correct horse", &phc), Verified::YesButRehash);
        assert_eq!(hasher.verify("wrong horse", &phc), Verified::No);
        Ok(())
    }

    #[test]
    fn garbage_never_verifies() -> Result<(), argon2::password_hash::Error> {
        let hasher = Hasher::new()?;
        assert_eq!(hasher.verify("x", "not a hash"), Verified::No);
        assert_eq!(hasher.verify_dummy("anything"), Verified::No);
        Ok(())
    }
}
