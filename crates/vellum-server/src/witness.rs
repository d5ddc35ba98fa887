//! The log's witnesses: the tlog-witness HTTP client of `vellum-witness`,
//! seen through the log's `Witness` trait, built from the log's policy.

use std::sync::Arc;
use std::time::Duration;

use vellum_log::{BoxFuture, Witness, WitnessFailure, Witnessing};
use vellum_merkle::Hash;
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
