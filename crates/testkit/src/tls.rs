//! Certificates for TLS tests, made when a test runs (nothing is committed): a test CA; a server
//! certificate for `localhost` and `127.0.0.1` and a client certificate, both signed by it; and a client
//! certificate from a second CA that nothing trusts. Every one is also a PEM file in a temporary directory
//! that lives as long as the [`TestCerts`], for programs that take paths (parleyd, grpcurl, MariaDB,
//! Envoy).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PublicKeyData as _,
};
use sha2::Digest as _;
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

/// A certificate and its private key, as PEM.
#[derive(Debug, Clone)]
pub struct Pair {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key (PKCS#8).
    pub key_pem: String,
    /// base64 of the SHA-256 of the certificate's public key (its DER SubjectPublicKeyInfo), the form
    /// Chromium's `--ignore-certificate-errors-spki-list` and HTTP public key pinning use.
    pub spki_sha256: String,
}

/// A test CA and the certificates it signed, in memory and as files.
#[derive(Debug)]
pub struct TestCerts {
    dir: tempfile::TempDir,
    /// The test CA's certificate.
    pub ca_pem: String,
    /// The server's certificate (names `localhost` and `127.0.0.1`) and key, signed by the test CA.
    pub server: Pair,
    /// A client certificate (common name `parley-test-client`) and key, signed by the test CA.
    pub client: Pair,
    /// A client certificate and key signed by another CA, which nothing trusts.
    pub stranger: Pair,
}

fn ca(name: &str) -> anyhow::Result<(Issuer<'static, KeyPair>, String)> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let cert = params.self_signed(&key)?;
    Ok((Issuer::new(params, key), cert.pem()))
}

fn leaf(
    issuer: &Issuer<'_, KeyPair>,
    common_name: &str,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
) -> anyhow::Result<Pair> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())?;
    params.distinguished_name.push(DnType::CommonName, common_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, issuer)?;
    let spki = sha2::Sha256::digest(key.subject_public_key_info());
    Ok(Pair {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        spki_sha256: base64::engine::general_purpose::STANDARD.encode(spki),
    })
}

impl TestCerts {
    /// Makes a fresh CA and certificates (ECDSA P-256) and writes them to a temporary directory as `ca.pem`,
    /// `server.pem`, `server-key.pem`, `client.pem`, `client-key.pem`, `stranger.pem` and
    /// `stranger-key.pem`.
    ///
    /// # Errors
    /// When a key cannot be generated or a file written.
    pub fn new() -> anyhow::Result<Self> {
        let (issuer, ca_pem) = ca("Parley test CA")?;
        let server = leaf(&issuer, "localhost", &["localhost", "127.0.0.1"], ExtendedKeyUsagePurpose::ServerAuth)?;
        let client = leaf(&issuer, "parley-test-client", &[], ExtendedKeyUsagePurpose::ClientAuth)?;
        let (other, _) = ca("Some other CA")?;
        let stranger = leaf(&other, "parley-test-stranger", &[], ExtendedKeyUsagePurpose::ClientAuth)?;
        let certs = Self { dir: tempfile::tempdir()?, ca_pem, server, client, stranger };
        std::fs::write(certs.file("ca.pem"), &certs.ca_pem)?;
        for (name, pair) in [("server", &certs.server), ("client", &certs.client), ("stranger", &certs.stranger)] {
            std::fs::write(certs.file(&format!("{name}.pem")), &pair.cert_pem)?;
            std::fs::write(certs.file(&format!("{name}-key.pem")), &pair.key_pem)?;
        }
        Ok(certs)
    }

    /// The path of one of the files [`TestCerts::new`] wrote (e.g. `"ca.pem"`).
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A client configuration that trusts the test CA and shows no certificate of its own.
    pub fn client_tls(&self) -> ClientTlsConfig {
        ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&self.ca_pem))
    }

    /// As [`TestCerts::client_tls`], showing `pair` as the client's certificate.
    pub fn client_tls_as(&self, pair: &Pair) -> ClientTlsConfig {
        self.client_tls().identity(Identity::from_pem(&pair.cert_pem, &pair.key_pem))
    }
}
