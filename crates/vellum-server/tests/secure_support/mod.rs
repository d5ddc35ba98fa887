//! Shared by the TLS, access and connection-limit tests: certificates made
//! here with rcgen (a CA and a server certificate for 127.0.0.1 and
//! localhost), a token file, and a server that uses them.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use sha2::{Digest, Sha256};
use vellum_server::access::token_hash_hex;
use vellum_server::{AccessPolicy, Running, ServeOptions, TlsFiles, start};
use vellum_testkit::TestServer;

/// A client certificate: PEM certificate and key, and the SHA-256 of its
/// DER in hex (what a token file's `cert-sha256:` names).
pub struct ClientCert {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    pub sha256_hex: String,
}

/// A CA and a server certificate it issued, as files, and two client
/// certificates it issued.
pub struct Pki {
    /// The CA certificate, PEM (what clients trust).
    pub ca_pem: Vec<u8>,
    /// The same, as a file (what a server trusts for client certificates).
    pub ca_file: PathBuf,
    /// Two client certificates of this CA.
    pub clients: [ClientCert; 2],
    /// The server's certificate and key files (key mode 0600).
    pub files: TlsFiles,
}

/// Makes a CA named `ca_name` and a server certificate for 127.0.0.1 and
/// localhost, written under `dir`.
pub fn pki(dir: &Path, ca_name: &str) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, ca_name);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "vellum test server");
    let cert = params.signed_by(&key, &issuer).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let cert_path = dir.join("server.pem");
    let key_path = dir.join("server.key");
    // The chain: server certificate first, then its CA.
    std::fs::write(&cert_path, format!("{}{}", cert.pem(), ca_cert.pem())).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca_cert.pem()).unwrap();
    let client = |name: &str| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.signed_by(&key, &issuer).unwrap();
        ClientCert {
            cert_pem: cert.pem().into_bytes(),
            key_pem: key.serialize_pem().into_bytes(),
            sha256_hex: Sha256::digest(cert.der())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        }
    };
    Pki {
        ca_pem: ca_cert.pem().into_bytes(),
        ca_file,
        clients: [client("device-1"), client("device-2")],
        files: TlsFiles::new(cert_path, key_path),
    }
}

/// Tokens, one per role set, and the policy listing their hashes.
pub const APPEND: &str = "token-append-3f9d";
pub const READ: &str = "token-read-77ab";
pub const AUDIT: &str = "token-audit-0c1e";
pub const ADMIN: &str = "token-admin-d41f";

/// The token file for the tokens above, as `vellum serve --auth` reads it.
pub fn token_file() -> String {
    format!(
        "# roles  sha256(token)  name\n\
         append {} ingest\n\
         read {} reader\n\
         audit {} monitor\n\
         admin {} operator\n",
        token_hash_hex(APPEND),
        token_hash_hex(READ),
        token_hash_hex(AUDIT),
        token_hash_hex(ADMIN),
    )
}

pub fn policy() -> Arc<AccessPolicy> {
    Arc::new(AccessPolicy::parse(&token_file()).unwrap())
}

/// Options for a log in `dir` with gRPC and HTTP on free loopback ports.
pub fn options(dir: &Path) -> ServeOptions {
    TestServer::builder(dir)
        .http()
        .origin("example.com/vellum-secure-test")
        .options()
}

/// A server with TLS (certificates under `dir/pki`) and the token policy.
pub async fn secure_server(dir: &Path) -> (Running, Pki) {
    let pki = pki(&dir.join("pki"), "vellum test CA");
    let mut opts = options(dir);
    opts.tls = Some(pki.files.clone());
    opts.access = Some(policy());
    (start(opts).await.unwrap(), pki)
}

/// The tree size and the entries waiting: what "nothing was appended"
/// compares.
pub fn appended(running: &Running) -> (u64, usize) {
    (
        running.log.committed().size.get(),
        running.log.queued_entries(),
    )
}

pub fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}
