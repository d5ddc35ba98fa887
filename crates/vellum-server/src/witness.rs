//! The log's witnesses: the tlog-witness HTTP client of `vellum-witness`,
//! seen through the log's `Witness` trait, built from the log's policy.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use vellum_log::{BoxFuture, Witness, WitnessFailure, Witnessing};
use vellum_merkle::Hash;
use vellum_note::policy::MAX_POLICY_SIZE;
use vellum_note::{NoteSignature, Policy};
use vellum_witness::client::{BearerToken, ClientOptions, WitnessCallError, WitnessClient};

/// A witness reached over HTTP.
#[derive(Debug)]
pub struct HttpWitness {
    name: String,
    client: WitnessClient,
}

impl Witness for HttpWitness {
    fn name(&self) -> &str {
        &self.name
    }

    fn add_checkpoint<'a>(
        &'a self,
        old_size: u64,
        proof: &'a [Hash],
        signed_checkpoint: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<NoteSignature>, WitnessFailure>> {
        Box::pin(async move {
            self.client
                .add_checkpoint(old_size, proof, signed_checkpoint)
                .await
                .map_err(|e| match e {
                    WitnessCallError::Conflict { size } => WitnessFailure::Conflict { size },
                    e => WitnessFailure::Failed(e.to_string()),
                })
        })
    }
}

/// How the log proves itself to its witnesses and checks them: the CA of
/// their `https://` certificates, and the bearer token each one gave it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WitnessAuth {
    /// PEM CA certificate(s) of the witnesses' certificates; `None`: the
    /// web PKI roots.
    pub ca: Option<PathBuf>,
    /// A file of `<witness name> <token>` lines, mode 0600 (the tokens are
    /// secrets); `#` starts a comment. A witness not listed gets no token.
    pub credentials: Option<PathBuf>,
}

/// Largest credentials file read: a line per witness.
const MAX_CREDENTIALS_FILE: u64 = 64 * 1024;

impl WitnessAuth {
    /// The token of each witness named in the credentials file, checked
    /// against `names` (a name the policy does not know is a typo that
    /// would leave a witness without its token).
    fn tokens(&self, names: &[&str]) -> Result<BTreeMap<String, BearerToken>, String> {
        let Some(path) = &self.credentials else {
            return Ok(BTreeMap::new());
        };
        let bad = |m: String| format!("witness credentials {}: {m}", path.display());
        let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(bad(format!(
                "mode {mode:04o}: the file holds tokens and must be readable by its owner only \
                 (chmod 600)"
            )));
        }
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_CREDENTIALS_FILE).read_to_string(&mut text))
            .map_err(|e| bad(e.to_string()))?;
        let mut out = BTreeMap::new();
        for (i, raw) in text.lines().enumerate() {
            let content = raw.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let line = i + 1;
            let fields: Vec<&str> = content.split_whitespace().collect();
            let [name, token] = fields[..] else {
                return Err(bad(format!(
                    "line {line}: expected `<witness name> <token>`, found {} fields",
                    fields.len()
                )));
            };
            if !names.contains(&name) {
                return Err(bad(format!(
                    "line {line}: the policy has no witness named {name:?}"
                )));
            }
            if out
                .insert(name.to_owned(), BearerToken::new(token))
                .is_some()
            {
                return Err(bad(format!("line {line}: {name:?} is listed twice")));
            }
        }
        Ok(out)
    }

    /// The witness names the credentials file gives a token to, read
    /// without the checks of a start (for `vellum doctor`): none if there
    /// is no file or it cannot be read.
    pub fn named(&self) -> Vec<String> {
        let Some(path) = &self.credentials else {
            return Vec::new();
        };
        let mut text = String::new();
        if std::fs::File::open(path)
            .and_then(|f| f.take(MAX_CREDENTIALS_FILE).read_to_string(&mut text))
            .is_err()
        {
            return Vec::new();
        }
        text.lines()
            .filter_map(|l| l.split('#').next()?.split_whitespace().next())
            .map(str::to_owned)
            .collect()
    }

    fn ca_pem(&self) -> Result<Option<Vec<u8>>, String> {
        self.ca
            .as_deref()
            .map(|p| crate::tls::read_ca_pem(p).map_err(|e| format!("witness CA: {e}")))
            .transpose()
    }
}

/// The witnesses of `policy` (each must have a URL: the log has to reach
/// it), with the given round timeout, reached with `auth`.
///
/// # Errors
///
/// A message naming a witness without a URL, or a URL that cannot be used;
/// a CA or credentials file that cannot be used; a token that would go
/// over plain HTTP beyond loopback.
pub fn witnessing_from_policy(
    policy: Policy,
    publish_below_policy: bool,
    round_timeout: Duration,
    auth: &WitnessAuth,
) -> Result<Witnessing, String> {
    let names: Vec<&str> = policy.witnesses().iter().map(|w| w.name()).collect();
    let mut tokens = auth.tokens(&names)?;
    let ca_pem = auth.ca_pem()?;
    let mut witnesses: Vec<Arc<dyn Witness>> = Vec::new();
    for w in policy.witnesses() {
        let url = w.url().ok_or_else(|| {
            format!(
                "witness {} has no URL in the policy; the log needs its submission prefix \
                 (witness <name> <vkey> <url>)",
                w.name()
            )
        })?;
        let options = ClientOptions {
            ca_pem: ca_pem.clone(),
            token: tokens.remove(w.name()),
            ..ClientOptions::default()
        };
        let client = WitnessClient::with_options(url, w.name(), w.key().clone(), &options)
            .map_err(|e| format!("witness {}: {e}", w.name()))?;
        witnesses.push(Arc::new(HttpWitness {
            name: w.name().to_owned(),
            client,
        }));
    }
    if witnesses.is_empty() {
        return Err("the policy lists no witnesses".into());
    }
    Ok(Witnessing {
        witnesses,
        policy,
        publish_below_policy,
        round_timeout,
        retry: Duration::from_secs(1),
    })
}

/// Reads the tlog-policy file at `path`: the one reader of a witness
/// policy for `vellum serve` (`--witness-policy`) and `vellum recover`
/// (`--from-witnesses`). At most [`MAX_POLICY_SIZE`] bytes are read, so a
/// wrong path (a device, a huge file) is refused instead of filling memory.
///
/// # Errors
///
/// A message naming the file: it cannot be read, is too large, or is not a
/// policy (with the parser's line).
pub fn read_policy(path: &Path) -> Result<Policy, String> {
    let text = read_policy_text(path)?;
    Policy::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The text of the tlog-policy file at `path`, read as [`read_policy`]
/// does: also the reader of a witness's `--logs` file, parsed by
/// `vellum_witness::config::TrustedLogs`.
///
/// # Errors
///
/// A message naming the file: it cannot be read, is larger than
/// [`MAX_POLICY_SIZE`], or is not UTF-8.
pub fn read_policy_text(path: &Path) -> Result<String, String> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_POLICY_SIZE as u64 + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() > MAX_POLICY_SIZE {
        return Err(format!(
            "{} is larger than a policy may be ({MAX_POLICY_SIZE} bytes)",
            path.display()
        ));
    }
    String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8 text", path.display()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    #[test]
    fn read_policy_names_the_file_and_bounds_the_read() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.policy");
        let e = read_policy(&missing).unwrap_err();
        assert!(
            e.starts_with("cannot read ") && e.contains("missing.policy"),
            "{e}"
        );

        let bad = dir.path().join("bad.policy");
        std::fs::write(&bad, "quorum nobody\n").unwrap();
        let e = read_policy(&bad).unwrap_err();
        assert!(e.contains("bad.policy"), "{e}");

        let huge = dir.path().join("huge.policy");
        std::fs::write(&huge, vec![b'#'; MAX_POLICY_SIZE + 10]).unwrap();
        let e = read_policy(&huge).unwrap_err();
        assert!(e.contains("huge.policy"), "{e}");

        let good = dir.path().join("good.policy");
        std::fs::write(&good, "quorum none\n").unwrap();
        assert!(read_policy(&good).unwrap().witnesses().is_empty());
    }
}
