//! Small functions on bytes and text that modules of every layer use (hashing). It refers to
//! no other module of the crate.

use sha2::{Digest, Sha256};

/// Lowercase hex sha256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
