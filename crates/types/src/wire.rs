//! [`WireCache`]: room on a shared value for its encoding, so that a value fanned out to many streams is
//! encoded once.

use std::sync::OnceLock;

use bytes::Bytes;

/// The bytes a value is sent as, made by the first stream that sends it and reused by every other stream
/// sending the same `Arc` of it (the gateway fills it; domain code never reads it). It belongs to one
/// value as it is: a clone starts empty (it may be changed before it is sent), and it takes no part in
/// equality. Only values that read the same to every receiver may be shared this way: an entry delivered
/// live is; an entry read for one viewer (with that viewer's reactions marked) is its own value.
#[derive(Default)]
pub struct WireCache(OnceLock<Bytes>);

impl WireCache {
    /// The cached bytes, made by `encode` if no one has yet.
    pub fn get_or_init(&self, encode: impl FnOnce() -> Bytes) -> Bytes {
        self.0.get_or_init(encode).clone()
    }

    /// Whether the bytes have been made.
    pub fn is_filled(&self) -> bool {
        self.0.get().is_some()
    }
}

impl Clone for WireCache {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for WireCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for WireCache {}

impl std::fmt::Debug for WireCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_filled() { "WireCache(filled)" } else { "WireCache(empty)" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_once_and_clones_start_empty() {
        let cache = WireCache::default();
        let first = cache.get_or_init(|| Bytes::from_static(b"one"));
        let second = cache.get_or_init(|| Bytes::from_static(b"two"));
        assert_eq!((first.as_ref(), second.as_ref()), (b"one".as_slice(), b"one".as_slice()));
        assert!(!cache.clone().is_filled());
        assert_eq!(cache, WireCache::default());
    }
}
