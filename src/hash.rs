//! Hashes that are the same in every build and on every machine: clocks of
//! different versions must agree on a tick's jitter and a job's
//! fingerprint, so `std`'s randomly seeded hashers will not do.

/// A stable 64-bit hash (FNV-1a): unlike `std`'s hashers it is the same in
/// every build, which fingerprints and jitter need.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// Spreads a 64-bit value over all 64 bits (SplitMix64's finaliser).
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
