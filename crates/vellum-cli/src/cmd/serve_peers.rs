//! The flags of `vellum serve` that say how the log reaches its signer and
//! its witnesses securely (flattened into [`super::serve::Flags`]; a file
//! of its own so that serve's stays readable).

use std::path::PathBuf;

use vellum_server::ServeConfig;

use super::serve::set_some;

/// TLS to an `https://` signer, and the witnesses' CA and tokens.
#[derive(Debug, clap::Args)]
pub(crate) struct PeerTls {
    /// PEM CA certificate(s) that an https:// --signer's certificate must
    /// chain to [default: the public web PKI roots].
    #[arg(long, value_name = "FILE", help_heading = "Signing and witnesses")]
    signer_tls_ca: Option<PathBuf>,

    /// PEM client certificate the log presents to an https:// --signer
    /// (mutual TLS: the signer serves only certificates of its
    /// --tls-client-ca). Needs --signer-tls-key.
    #[arg(
        long,
        value_name = "FILE",
        requires = "signer_tls_key",
        help_heading = "Signing and witnesses"
    )]
    signer_tls_cert: Option<PathBuf>,

    /// PEM private key of --signer-tls-cert; mode 0600.
    #[arg(
        long,
        value_name = "FILE",
        requires = "signer_tls_cert",
        help_heading = "Signing and witnesses"
    )]
    signer_tls_key: Option<PathBuf>,

    /// PEM CA certificate(s) that https:// witnesses' certificates must
    /// chain to [default: the public web PKI roots].
    #[arg(long, value_name = "FILE", help_heading = "Signing and witnesses")]
    witness_tls_ca: Option<PathBuf>,

    /// The log's tokens for its witnesses: `<witness name> <token>` lines
    /// (names as in --witness-policy), mode 0600. Each witness gets its own
    /// token as `Authorization: Bearer`, over https:// only.
    #[arg(long, value_name = "FILE", help_heading = "Signing and witnesses")]
    witness_credentials: Option<PathBuf>,
}

impl PeerTls {
    /// Writes the flags that were given over `c`.
    pub(crate) fn overlay(&self, c: &mut ServeConfig) {
        let s = &mut c.log.signer;
        set_some(&mut s.tls_ca, &self.signer_tls_ca);
        set_some(&mut s.tls_cert, &self.signer_tls_cert);
        set_some(&mut s.tls_key, &self.signer_tls_key);
        let w = &mut c.log.witnesses;
        set_some(&mut w.tls_ca, &self.witness_tls_ca);
        set_some(&mut w.credentials, &self.witness_credentials);
    }
}
