//! The log's witnesses: the tlog-witness HTTP client of `vellum-witness`,
//! seen through the log's `Witness` trait, built from the log's policy.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use vellum_log::{BoxFuture, Witness, WitnessFailure, Witnessing};
use vellum_merkle::Hash;
use vellum_note::policy::MAX_POLICY_SIZE;
use vellum_note::{NoteSignature, Policy};
use vellum_witness::client::{WitnessCallError, WitnessClient};

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

/// The witnesses of `policy` (each must have a URL: the log has to reach
/// it), with the given round timeout.
///
/// # Errors
///
/// A message naming a witness without a URL, or a URL that cannot be used.
pub fn witnessing_from_policy(
    policy: Policy,
    publish_below_policy: bool,
    round_timeout: Duration,
) -> Result<Witnessing, String> {
    let mut witnesses: Vec<Arc<dyn Witness>> = Vec::new();
    for w in policy.witnesses() {
        let url = w.url().ok_or_else(|| {
            format!(
                "witness {} has no URL in the policy; the log needs its submission prefix \
                 (witness <name> <vkey> <url>)",
                w.name()
            )
        })?;
        let client = WitnessClient::new(url, w.name(), w.key().clone())
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
