//! Password hashing: argon2id with OWASP's parameters (m = 19456 KiB, t = 2, p = 1) in PHC strings.
//!
//! Hashing is deliberately slow (~50 ms of one core), so callers run it on the blocking pool, never on the
//! async workers.
//!
//! Each hash needs 19 MiB of working memory. Rather than allocating it per hash (which `argon2`'s
//! convenience methods do), the hasher keeps the buffers it has used and hands them out again: at most one
//! per hash running at once, which [`crate::hashing`] bounds. With jemalloc, a fresh 19 MiB block per hash
//! was returned to the system after each one, so every hash paid ~4,900 page faults and zeroed 19 MiB; with
//! glibc the freed blocks stayed in the heap anyway. Reuse makes both the speed and the memory predictable.

use std::sync::{Mutex, PoisonError};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

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

/// Why a hash could not be computed.
pub(crate) type HashError = argon2::password_hash::Error;

#[derive(Debug)]
pub(crate) struct Hasher {
    params: Params,
    /// A hash of nothing in particular, checked when the account does not exist so that "no such user" takes
    /// as long as "wrong password".
    dummy: String,
    /// Working memory of finished hashes, each `params.block_count()` blocks long, ready for the next.
    memory: Mutex<Vec<Vec<Block>>>,
}

impl Hasher {
    pub(crate) fn new() -> Result<Self, HashError> {
        Self::with_params(Params::DEFAULT)
    }

    /// A hasher with other parameters (only tests make weaker hashes on purpose).
    pub(crate) fn with_params(params: Params) -> Result<Self, HashError> {
        let mut hasher = Self { params, dummy: String::new(), memory: Mutex::new(Vec::new()) };
        hasher.dummy = hasher.hash("parley dummy password")?;
        // Nothing is hashing now: a server that has just started holds no hashing memory.
        hasher.release_memory();
        Ok(hasher)
    }

    /// A PHC string for `password` with a fresh random salt and the current parameters.
    pub(crate) fn hash(&self, password: &str) -> Result<String, HashError> {
        let salt = argon2::password_hash::try_generate_salt().map_err(|_| HashError::Crypto)?;
        let salt = Salt::new(&salt)?;
        let mut out = [0u8; Output::MAX_LENGTH];
        let out = out
            .get_mut(..self.params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN))
            .ok_or(HashError::OutputSize)?;
        let params = self.params.clone();
        self.compute(Algorithm::Argon2id, Version::V0x13, params.clone(), password.as_bytes(), &salt, out)?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(params)?,
            salt: Some(salt),
            hash: Some(Output::new(out)?),
        };
        Ok(phc.to_string())
    }

    pub(crate) fn verify(&self, password: &str, phc: &str) -> Verified {
        let Ok(parsed) = PasswordHash::new(phc) else {
            tracing::warn!("stored password hash is not a PHC string");
            return Verified::No;
        };
        // Verification uses the parameters stored in the hash, whatever they are.
        match self.matches(password, &parsed) {
            Ok(true) if self.is_weaker(&parsed) => Verified::YesButRehash,
            Ok(true) => Verified::Yes,
            Ok(false) => Verified::No,
            Err(error) => {
                tracing::warn!(%error, "stored password hash cannot be checked");
                Verified::No
            }
        }
    }

    /// Spends the same effort as [`Self::verify`] on an existing account, and always fails.
    pub(crate) fn verify_dummy(&self, password: &str) -> Verified {
        let _ = self.verify(password, &self.dummy);
        Verified::No
    }

    /// Whether `password` hashes to `stored`'s output with `stored`'s algorithm, version, parameters and salt.
    fn matches(&self, password: &str, stored: &PasswordHash) -> Result<bool, HashError> {
        let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
            return Ok(false);
        };
        let algorithm = Algorithm::try_from(stored.algorithm.as_str())?;
        let version = stored.version.map(Version::try_from).transpose()?.unwrap_or_default();
        let params = Params::try_from(stored)?;
        let mut out = [0u8; Output::MAX_LENGTH];
        let out = out.get_mut(..expected.len()).ok_or(HashError::OutputSize)?;
        self.compute(algorithm, version, params, password.as_bytes(), salt, out)?;
        // `Output`'s equality is constant-time.
        Ok(*expected == Output::new(out)?)
    }

    /// Runs argon2 into `out`, in a working buffer taken from the pool (or made, if none is free) and given
    /// back after.
    fn compute(
        &self,
        algorithm: Algorithm,
        version: Version,
        params: Params,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), HashError> {
        let blocks = params.block_count();
        let mut memory = self.memory.lock().unwrap_or_else(PoisonError::into_inner).pop().unwrap_or_default();
        if memory.len() < blocks {
            memory.resize(blocks, Block::new());
        }
        let result = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
            password,
            salt,
            out,
            &mut memory[..blocks],
        );
        // Keep only buffers of the current size: a stored hash with a larger cost must not pin its memory.
        if memory.len() == self.params.block_count() {
            self.memory.lock().unwrap_or_else(PoisonError::into_inner).push(memory);
        }
        Ok(result?)
    }

    /// Frees the working buffers of finished hashes (those of hashes running now are kept by them).
    pub(crate) fn release_memory(&self) {
        let freed = std::mem::take(&mut *self.memory.lock().unwrap_or_else(PoisonError::into_inner));
        drop(freed);
    }

    /// How many working buffers are ready for the next hash.
    #[cfg(test)]
    pub(crate) fn pooled(&self) -> usize {
        self.memory.lock().map_or(usize::MAX, |m| m.len())
    }

    fn is_weaker(&self, stored: &PasswordHash) -> bool {
        let current = &self.params;
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
    fn hashes_agree_with_the_argon2_crates_own_hasher() -> Result<(), argon2::password_hash::Error> {
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        let params = Params::new(1024, 2, 1, None)?;
        let ours = Hasher::with_params(params.clone())?;
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        // Hashes stored before the hasher kept its memory were made by the crate's own code.
        let stored = theirs.hash_password(b"correct horse")?.to_string();
        assert_eq!(ours.verify("correct horse", &stored), Verified::Yes);
        assert_eq!(ours.verify("correct horsf", &stored), Verified::No);
        let made = ours.hash("correct horse")?;
        assert!(theirs.verify_password(b"correct horse", made.as_str()).is_ok());
        assert!(theirs.verify_password(b"correct horsf", made.as_str()).is_err());
        Ok(())
    }

    #[test]
    fn working_memory_is_reused_and_only_at_the_current_size() -> Result<(), argon2::password_hash::Error> {
        let hasher = Hasher::with_params(Params::new(1024, 1, 1, None)?)?;
        let pooled = || hasher.pooled();
        assert_eq!(pooled(), 0, "the dummy hash left no buffer behind");
        for _ in 0..5 {
            let phc = hasher.hash("correct horse")?;
            assert_eq!(hasher.verify("correct horse", &phc), Verified::Yes);
        }
        assert_eq!(pooled(), 1, "one hash at a time needs one buffer");
        // A stronger stored hash is checked with a buffer of its own size, which is not kept.
        let strong = Hasher::with_params(Params::new(2048, 1, 1, None)?)?.hash("correct horse")?;
        assert_eq!(hasher.verify("correct horse", &strong), Verified::Yes);
        assert_eq!(pooled(), 0, "the grown buffer was dropped");
        hasher.hash("correct horse")?;
        assert_eq!(pooled(), 1);
        hasher.release_memory();
        assert_eq!(pooled(), 0, "freed");
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
