//! Client certificates as kubectl takes them: version 1 certificates included.
//!
//! rustls (under kube's client) checks that a client key matches its certificate by parsing the
//! certificate with webpki, which refuses X.509 version 1 (`UnsupportedCertVersion`, shown as
//! "invalid private key"). kubectl (Go's crypto/x509) reads version 1, and so does skyhelm: the
//! TLS stack gets keys whose public half it does not know, so it skips its own check, and
//! `doctor` makes the same check itself (`key_matches`), for any certificate version, naming
//! the field.

use std::sync::Arc;

use rustls::SignatureScheme;
use rustls::crypto::{CryptoProvider, KeyProvider};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer};
use rustls::sign::{Signer, SigningKey};

use super::cert;

/// The first private key in PEM text, as rustls takes it.
fn private_key_der(pem_text: &[u8]) -> Option<PrivateKeyDer<'static>> {
    let blocks = pem::parse_many(pem_text).ok()?;
    blocks.iter().find_map(|b| {
        let der = b.contents().to_vec();
        match b.tag() {
            "PRIVATE KEY" => Some(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der))),
            "RSA PRIVATE KEY" => Some(PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der))),
            "EC PRIVATE KEY" => Some(PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(der))),
            _ => None,
        }
    })
}

/// Whether the key in `key_pem` belongs to the first certificate in `cert_pem`: Some(false)
/// when their public keys differ, None when either cannot be read here (a key type the TLS
/// stack lacks, such as P-521: kubectl may still take it, so that is no finding).
pub fn key_matches(cert_pem: &[u8], key_pem: &[u8]) -> Option<bool> {
    let certs = pem::parse_many(cert_pem).ok()?;
    let cert_der = certs.iter().find(|b| b.tag() == "CERTIFICATE")?;
    let cert_spki = cert::spki(cert_der.contents())?;
    let key = rustls::crypto::ring::default_provider().key_provider.load_private_key(private_key_der(key_pem)?).ok()?;
    let key_spki = key.public_key()?;
    Some(key_spki.as_ref() == cert_spki)
}

/// ring's keys, with their public half hidden from rustls (see the module's documentation).
#[derive(Debug)]
struct KubectlKeys;

#[derive(Debug)]
struct KeyWithoutSpki(Arc<dyn SigningKey>);

impl SigningKey for KeyWithoutSpki {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        self.0.choose_scheme(offered)
    }

    fn algorithm(&self) -> rustls::SignatureAlgorithm {
        self.0.algorithm()
    }
}

impl KeyProvider for KubectlKeys {
    fn load_private_key(&self, key_der: PrivateKeyDer<'static>) -> Result<Arc<dyn SigningKey>, rustls::Error> {
        let key = rustls::crypto::ring::default_provider().key_provider.load_private_key(key_der)?;
        Ok(Arc::new(KeyWithoutSpki(key)))
    }
}

static KUBECTL_KEYS: KubectlKeys = KubectlKeys;

/// Makes the process's TLS stack take client certificates as kubectl does. Call before any
/// client is built; later calls do nothing.
pub fn install_tls_provider() {
    let provider = CryptoProvider { key_provider: &KUBECTL_KEYS, ..rustls::crypto::ring::default_provider() };
    // An error means a provider is installed already (an earlier call).
    let _ = provider.install_default();
}
