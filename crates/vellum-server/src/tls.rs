//! TLS for the gRPC and HTTP listeners: rustls with the ring provider, a
//! certificate chain and a private key from PEM files.
//!
//! The key file must not be readable or writable by group or others (mode
//! 0600 or 0400), as for the log key: a TLS key that anyone on the machine
//! can read lets them impersonate the log to every client.
//!
//! # Rotation
//!
//! [`ServerTls`] holds the material of both listeners behind two swappable
//! slots that rustls consults at each handshake: the certificate and key
//! through a [`ResolvesServerCert`], the client CA (mTLS) through a
//! [`ClientCertVerifier`] that hands each call to the verifier rustls
//! built for the current CA. [`ServerTls::reload`] reads the same files
//! again and swaps both in at once; a file that cannot be used changes
//! nothing. Handshakes from then on use the new material; connections
//! already open keep theirs (TLS does not re-authenticate a session).
//!
//! The server sends no CA names in its certificate request (RFC 8446
//! allows an empty list: clients then offer the certificate they have), so
//! that a rotated client CA needs no new hints.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use sha2::{Digest, Sha256};

/// Where the server's certificate and key are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, the server's certificate first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1), mode 0600.
    pub key: PathBuf,
    /// PEM certificates of the CA(s) that client certificates must chain
    /// to; `None`: clients are not asked for certificates. A client may
    /// still connect without one (and use a bearer token); one with a
    /// certificate that does not chain is refused in the handshake. Which
    /// certificates are who is in the token file (see [`crate::access`]).
    pub client_ca: Option<PathBuf>,
}

impl TlsFiles {
    /// A certificate and key, no client certificates.
    pub fn new(cert: PathBuf, key: PathBuf) -> TlsFiles {
        TlsFiles {
            cert,
            key,
            client_ca: None,
        }
    }
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The certificate file holds no usable certificate.
    #[error("{path}: no PEM certificate found ({reason})")]
    NoCertificate {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// The key file holds no usable private key.
    #[error("{path}: no PEM private key found ({reason})")]
    NoKey {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// The key file is readable by others.
    #[error(
        "{path} has mode {mode:04o}: a TLS private key must be readable by its owner only \
         (chmod 600 {path})"
    )]
    UnsafeKeyMode {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// rustls refused the certificate and key (e.g. they do not match).
    #[error("the certificate and key cannot be used together: {0}")]
    Config(String),
}

/// The crypto provider used everywhere in this crate: ring, so that no C
/// toolchain beyond what ring needs is required.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads `files` and builds a server configuration offering `alpn`
/// protocols (e.g. `h2` for gRPC; `h2` and `http/1.1` for HTTP), whose
/// material is fixed. A server uses [`ServerTls`], which can rotate it.
///
/// # Errors
///
/// [`TlsError`] naming the file and the problem.
pub fn server_config(files: &TlsFiles, alpn: &[&[u8]]) -> Result<Arc<ServerConfig>, TlsError> {
    ServerTls::load(files.clone())?.config(alpn)
}

/// A server configuration that requires every client to present a
/// certificate chaining to the CA(s) in `files.client_ca` (mutual TLS), for
/// a listener whose only legitimate client is known (the signer's: only
/// the log may ask it for signatures). A client without a certificate, or
/// with one of another CA, fails the handshake. Fixed material: no reload.
///
/// # Errors
///
/// [`TlsError`] naming the file and the problem; [`TlsError::Config`] when
/// `files.client_ca` is `None`.
pub fn mtls_server_config(files: &TlsFiles, alpn: &[&[u8]]) -> Result<Arc<ServerConfig>, TlsError> {
    let Some(ca) = &files.client_ca else {
        return Err(TlsError::Config(
            "mutual TLS needs a client CA (--tls-client-ca)".into(),
        ));
    };
    let certs = load_certs(&files.cert)?;
    let key = load_key(&files.key)?;
    let mut roots = RootCertStore::empty();
    for c in load_certs(ca)? {
        roots.add(c).map_err(|e| TlsError::NoCertificate {
            path: ca.clone(),
            reason: e.to_string(),
        })?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| TlsError::Config(format!("client CA {}: {e}", ca.display())))?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The PEM text of the CA certificate file `path`, checked to hold at
/// least one certificate: what a client trusts for a peer's certificate.
///
/// # Errors
///
/// [`TlsError`] naming the file.
pub fn read_ca_pem(path: &Path) -> Result<Vec<u8>, TlsError> {
    load_certs(path)?;
    read(path)
}

/// The PEM text of the private key file `path` (mode 0600 or stricter,
/// checked to hold a key): a client's key for mutual TLS.
///
/// # Errors
///
/// [`TlsError`] naming the file, [`TlsError::UnsafeKeyMode`] when others
/// may read it.
pub fn read_key_pem(path: &Path) -> Result<Vec<u8>, TlsError> {
    load_key(path)?;
    read(path)
}

/// The PEM text of the certificate file `path`, checked to hold one.
///
/// # Errors
///
/// [`TlsError`] naming the file.
pub fn read_cert_pem(path: &Path) -> Result<Vec<u8>, TlsError> {
    read_ca_pem(path)
}

/// The TLS material of a server's listeners, read from [`TlsFiles`] and
/// swapped in again by [`ServerTls::reload`] (see the module docs).
#[derive(Debug)]
pub struct ServerTls {
    files: TlsFiles,
    cert: Arc<CertSlot>,
    client_ca: Option<Arc<ClientCaSlot>>,
}

/// What a load or reload found: the certificate now served, and whether
/// the certificate and the client CA differ from before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsChange {
    /// The certificate served from now on.
    pub cert: CertSummary,
    /// Whether the chain or key differ from what was served before.
    pub cert_changed: bool,
    /// `None` without mTLS; else whether the client CA file's certificates
    /// differ from before.
    pub client_ca_changed: Option<bool>,
}

impl std::fmt::Display for TlsChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.cert_changed {
            write!(f, "TLS certificate reloaded: {}", self.cert)?;
        } else {
            write!(f, "TLS certificate unchanged ({})", self.cert)?;
        }
        match self.client_ca_changed {
            Some(true) => f.write_str("; client CA reloaded"),
            Some(false) => f.write_str("; client CA unchanged"),
            None => Ok(()),
        }
    }
}

/// Who a certificate names and until when: what an operator checks after
/// a rotation. Public facts of the certificate only, never the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertSummary {
    /// The subject's distinguished name.
    pub subject: String,
    /// The serial number, in hex.
    pub serial: String,
    /// The end of its validity.
    pub not_after: String,
    /// SHA-256 of its DER, in hex (as `openssl x509 -fingerprint -sha256`).
    pub sha256: String,
}

impl std::fmt::Display for CertSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "subject {}, serial {}, expires {}, sha256 {}",
            self.subject, self.serial, self.not_after, self.sha256
        )
    }
}

impl CertSummary {
    fn of(der: &CertificateDer<'_>, path: &Path) -> Result<CertSummary, TlsError> {
        use x509_cert::der::Decode;
        let cert = x509_cert::Certificate::from_der(der.as_ref()).map_err(|e| {
            TlsError::NoCertificate {
                path: path.to_owned(),
                reason: format!("the first certificate cannot be parsed: {e}"),
            }
        })?;
        let tbs = &cert.tbs_certificate;
        Ok(CertSummary {
            subject: tbs.subject.to_string(),
            serial: hex(tbs.serial_number.as_bytes()),
            not_after: tbs.validity.not_after.to_string(),
            sha256: hex(&Sha256::digest(der.as_ref())),
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The material read from the files, checked, not yet in use.
struct Material {
    key: Arc<CertifiedKey>,
    summary: CertSummary,
    /// SHA-256 over the chain's DER and the key's DER: what "changed" means.
    digest: [u8; 32],
    client_ca: Option<(Arc<dyn ClientCertVerifier>, [u8; 32])>,
}

impl ServerTls {
    /// Reads and checks `files` (certificate, key, client CA).
    ///
    /// # Errors
    ///
    /// [`TlsError`] naming the file and the problem.
    pub fn load(files: TlsFiles) -> Result<ServerTls, TlsError> {
        let m = Material::read(&files)?;
        Ok(ServerTls {
            cert: Arc::new(CertSlot {
                current: ArcSwap::new(Arc::new((m.key, m.summary, m.digest))),
            }),
            client_ca: m.client_ca.map(|(verifier, digest)| {
                Arc::new(ClientCaSlot {
                    current: ArcSwap::new(Arc::new((verifier, digest))),
                })
            }),
            files,
        })
    }

    /// The files this material comes from.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// The certificate served now.
    pub fn summary(&self) -> CertSummary {
        self.cert.current.load().1.clone()
    }

    /// A server configuration offering `alpn` protocols (e.g. `h2` for
    /// gRPC; `h2` and `http/1.1` for HTTP) whose certificate and client CA
    /// follow [`ServerTls::reload`].
    ///
    /// # Errors
    ///
    /// [`TlsError::Config`] if rustls refuses the protocol versions.
    pub fn config(&self, alpn: &[&[u8]]) -> Result<Arc<ServerConfig>, TlsError> {
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(slot) => builder.with_client_cert_verifier(slot.clone()),
        };
        let mut config = builder.with_cert_resolver(self.cert.clone());
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }

    /// Reads the files again and, if all of them can be used, swaps the
    /// new material in for the handshakes to come.
    ///
    /// # Errors
    ///
    /// [`TlsError`] naming the file and the problem; the material in use
    /// is then unchanged.
    pub fn reload(&self) -> Result<TlsChange, TlsError> {
        let m = Material::read(&self.files)?;
        let cert_changed = self.cert.current.load().2 != m.digest;
        let client_ca_changed = match (&self.client_ca, m.client_ca) {
            (Some(slot), Some((verifier, digest))) => {
                let changed = slot.current.load().1 != digest;
                slot.current.store(Arc::new((verifier, digest)));
                Some(changed)
            }
            // The same files as at start: either both or neither.
            _ => None,
        };
        let cert = m.summary.clone();
        self.cert
            .current
            .store(Arc::new((m.key, m.summary, m.digest)));
        Ok(TlsChange {
            cert,
            cert_changed,
            client_ca_changed,
        })
    }
}

impl Material {
    fn read(files: &TlsFiles) -> Result<Material, TlsError> {
        let certs = load_certs(&files.cert)?;
        let key = load_key(&files.key)?;
        let mut h = Sha256::new();
        for c in &certs {
            h.update((c.as_ref().len() as u64).to_be_bytes());
            h.update(c.as_ref());
        }
        h.update(key.secret_der());
        let digest = h.finalize().into();
        let summary = CertSummary::of(&certs[0], &files.cert)?;
        let key = CertifiedKey::from_der(certs, key, &provider())
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let client_ca = match &files.client_ca {
            None => None,
            Some(path) => Some(client_verifier(path)?),
        };
        Ok(Material {
            key: Arc::new(key),
            summary,
            digest,
            client_ca,
        })
    }
}

/// The verifier of client certificates chaining to the CA(s) in `path`
/// (a client may also come without one), and a digest of the file's
/// certificates.
fn client_verifier(path: &Path) -> Result<(Arc<dyn ClientCertVerifier>, [u8; 32]), TlsError> {
    let mut roots = RootCertStore::empty();
    let mut h = Sha256::new();
    for c in load_certs(path)? {
        h.update(Sha256::digest(c.as_ref()));
        roots.add(c).map_err(|e| TlsError::NoCertificate {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .allow_unauthenticated()
        .clear_root_hint_subjects()
        .build()
        .map_err(|e| TlsError::Config(format!("client CA {}: {e}", path.display())))?;
    Ok((verifier, h.finalize().into()))
}

/// The certificate and key of the next handshakes, with their summary
/// and digest.
struct CertSlot {
    current: ArcSwap<(Arc<CertifiedKey>, CertSummary, [u8; 32])>,
}

impl std::fmt::Debug for CertSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The summary only: nothing derived from the key.
        f.debug_struct("CertSlot")
            .field("cert", &self.current.load().1)
            .finish()
    }
}

impl ResolvesServerCert for CertSlot {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load().0.clone())
    }
}

/// The client CA of the next handshakes: each call goes to the verifier
/// rustls built for the current CA file.
struct ClientCaSlot {
    current: ArcSwap<(Arc<dyn ClientCertVerifier>, [u8; 32])>,
}

impl std::fmt::Debug for ClientCaSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCaSlot")
            .field("ca_sha256", &hex(&self.current.load().1))
            .finish()
    }
}

impl ClientCertVerifier for ClientCaSlot {
    fn offer_client_auth(&self) -> bool {
        self.current.load().0.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.current.load().0.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hints (see the module docs): the verifiers are built without.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.current
            .load()
            .0
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current
            .load()
            .0
            .verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current
            .load()
            .0
            .verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.current.load().0.supported_verify_schemes()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::NoCertificate {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
            reason: "expected -----BEGIN CERTIFICATE-----".into(),
        });
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let meta = std::fs::metadata(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(TlsError::UnsafeKeyMode {
            path: path.to_owned(),
            mode,
        });
    }
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| TlsError::NoKey {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}
