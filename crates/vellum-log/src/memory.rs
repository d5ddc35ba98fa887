//! Witnesses as the log's memory: before a log signs anything at start-up,
//! it presents its latest signed checkpoint to every witness, so that a
//! restored backup (data *and* signer memory rewound together) is caught by
//! parties the restore cannot reach.
//!
//! The request is a tlog-witness `add-checkpoint` with the old size equal to
//! the checkpoint's own size and an empty proof. A witness answers:
//!
//! | witness holds                    | answer             | verdict              |
//! |----------------------------------|--------------------|----------------------|
//! | the same size and root           | 200, a cosignature | agrees               |
//! | a smaller size (or nothing)      | 409 with its size  | behind: fine         |
//! | a larger size                    | 409 with its size  | [`StartupError::WitnessAhead`] |
//! | the same size, another root      | 409 with our size  | [`StartupError::WitnessForked`] |
//! | unreachable, or refuses (4xx)    | error              | warned, not fatal    |
//!
//! A witness that cannot be reached does not stop the start: a down witness
//! must not take the log down with it, and it will refuse the log's next
//! checkpoint itself if the log has gone back. Every witness that answers
//! is heard.

use std::sync::Arc;

use tokio::task::JoinSet;
use vellum_merkle::TreeSize;

use crate::error::StartupError;
use crate::witnessing::{Witness, WitnessFailure, Witnessing};

/// What one witness remembers of this log, relative to a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Remembered {
    /// It cosigned the same checkpoint (now or before).
    Same,
    /// It last cosigned a smaller tree (or none: size 0).
    Behind(u64),
    /// It last cosigned a larger tree.
    Ahead(u64),
    /// It cosigned another tree of the same size.
    Forked,
    /// No answer that tells (unreachable, timed out, refused).
    Unknown(String),
}

/// Asks every witness of `witnessing`, concurrently and each within the
/// round timeout, what it remembers relative to `note` (the log's latest
/// signed checkpoint, of size `size`). Returns each witness's name and
/// answer, in the policy's order.
pub async fn ask_witnesses(
    witnessing: &Witnessing,
    note: &[u8],
    size: TreeSize,
) -> Vec<(String, Remembered)> {
    let note: Arc<[u8]> = Arc::from(note);
    let mut set = JoinSet::new();
    for (i, w) in witnessing.witnesses.iter().enumerate() {
        let (w, note, timeout) = (w.clone(), note.clone(), witnessing.round_timeout);
        set.spawn(async move { (i, ask_one(&*w, &note, size, timeout).await) });
    }
    let mut answers: Vec<Option<Remembered>> = vec![None; witnessing.witnesses.len()];
    while let Some(joined) = set.join_next().await {
        // A panicking witness client is a bug there, not a verdict here.
        if let Ok((i, r)) = joined {
            answers[i] = Some(r);
        }
    }
    witnessing
        .witnesses
        .iter()
        .zip(answers)
        .map(|(w, r)| {
            (
                w.name().to_owned(),
                r.unwrap_or_else(|| Remembered::Unknown("the witness task failed".into())),
            )
        })
        .collect()
}

async fn ask_one(
    w: &dyn Witness,
    note: &[u8],
    size: TreeSize,
    timeout: std::time::Duration,
) -> Remembered {
    let call = w.add_checkpoint(size.get(), &[], note);
    match tokio::time::timeout(timeout, call).await {
        Err(_) => Remembered::Unknown(format!("no answer within {timeout:?}")),
        Ok(Ok(_)) => Remembered::Same,
        Ok(Err(WitnessFailure::Conflict { size: theirs })) => match theirs.cmp(&size.get()) {
            std::cmp::Ordering::Less => Remembered::Behind(theirs),
            std::cmp::Ordering::Greater => Remembered::Ahead(theirs),
            // The witness holds our size but refused our root.
            std::cmp::Ordering::Equal => Remembered::Forked,
        },
        Ok(Err(WitnessFailure::Failed(reason))) => Remembered::Unknown(reason),
    }
}

/// The start-up check: [`ask_witnesses`], then the first witness that
/// remembers more (or another tree) refuses the start. Unknown answers are
/// logged as warnings.
///
/// # Errors
///
/// [`StartupError::WitnessAhead`] or [`StartupError::WitnessForked`].
pub async fn check_witnesses(
    witnessing: &Witnessing,
    note: &[u8],
    size: TreeSize,
) -> Result<(), StartupError> {
    let answers = ask_witnesses(witnessing, note, size).await;
    for (witness, answer) in answers {
        match answer {
            Remembered::Same | Remembered::Behind(_) => {
                tracing::debug!(witness, ?answer, size = size.get(), "witness memory agrees");
            }
            Remembered::Ahead(witness_size) => {
                return Err(StartupError::WitnessAhead {
                    witness,
                    witness_size,
                    size: size.get(),
                });
            }
            Remembered::Forked => {
                return Err(StartupError::WitnessForked {
                    witness,
                    size: size.get(),
                });
            }
            Remembered::Unknown(reason) => tracing::warn!(
                witness,
                reason,
                "could not ask the witness whether it remembers a larger tree of this log; \
                 starting without its word"
            ),
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use std::time::Duration;

    use vellum_note::{NoteSignature, Policy};

    use super::*;
    use crate::signer::BoxFuture;

    /// A witness that answers as it is told.
    struct Fixed(&'static str, Result<(), WitnessFailure>, Duration);

    impl Witness for Fixed {
        fn name(&self) -> &str {
            self.0
        }
        fn add_checkpoint<'a>(
            &'a self,
            _old: u64,
            _proof: &'a [vellum_merkle::Hash],
            _cp: &'a [u8],
        ) -> BoxFuture<'a, Result<Vec<NoteSignature>, WitnessFailure>> {
            Box::pin(async move {
                tokio::time::sleep(self.2).await;
                self.1.clone().map(|()| Vec::new())
            })
        }
    }

    fn witnessing(ws: Vec<Fixed>) -> Witnessing {
        Witnessing {
            witnesses: ws
                .into_iter()
                .map(|w| Arc::new(w) as Arc<dyn Witness>)
                .collect(),
            policy: Policy::parse_bytes(b"quorum none\n").unwrap(),
            publish_below_policy: true,
            round_timeout: Duration::from_secs(1),
            retry: Duration::from_secs(1),
        }
    }

    const NOW: Duration = Duration::ZERO;
    const SIZE: TreeSize = match TreeSize::new(10) {
        Ok(s) => s,
        Err(_) => panic!("10 is a tree size"),
    };

    fn conflict(size: u64) -> Result<(), WitnessFailure> {
        Err(WitnessFailure::Conflict { size })
    }

    #[tokio::test(start_paused = true)]
    async fn each_answer_is_classified() {
        let w = witnessing(vec![
            Fixed("same", Ok(()), NOW),
            Fixed("behind", conflict(4), NOW),
            Fixed("ahead", conflict(12), NOW),
            Fixed("forked", conflict(10), NOW),
            Fixed("down", Err(WitnessFailure::Failed("refused".into())), NOW),
            Fixed("slow", Ok(()), Duration::from_secs(5)),
        ]);
        let answers = ask_witnesses(&w, b"note", SIZE).await;
        let got: Vec<_> = answers
            .iter()
            .map(|(n, r)| (n.as_str(), r.clone()))
            .collect();
        assert_eq!(got[0], ("same", Remembered::Same));
        assert_eq!(got[1], ("behind", Remembered::Behind(4)));
        assert_eq!(got[2], ("ahead", Remembered::Ahead(12)));
        assert_eq!(got[3], ("forked", Remembered::Forked));
        assert_eq!(got[4], ("down", Remembered::Unknown("refused".into())));
        assert!(matches!(got[5], ("slow", Remembered::Unknown(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn only_a_witness_that_remembers_more_stops_the_start() {
        let fine = witnessing(vec![
            Fixed("same", Ok(()), NOW),
            Fixed("behind", conflict(0), NOW),
            Fixed(
                "down",
                Err(WitnessFailure::Failed("unreachable".into())),
                NOW,
            ),
        ]);
        check_witnesses(&fine, b"note", SIZE).await.unwrap();

        let ahead = witnessing(vec![
            Fixed("same", Ok(()), NOW),
            Fixed("w2", conflict(25), NOW),
        ]);
        let e = check_witnesses(&ahead, b"note", SIZE).await.unwrap_err();
        assert!(
            matches!(&e, StartupError::WitnessAhead { witness, witness_size: 25, size: 10 } if witness == "w2"),
            "{e}"
        );
        assert!(
            e.to_string()
                .contains("witness w2 has cosigned a tree of size 25"),
            "{e}"
        );

        let forked = witnessing(vec![Fixed("w3", conflict(10), NOW)]);
        let e = check_witnesses(&forked, b"note", SIZE).await.unwrap_err();
        assert!(
            matches!(&e, StartupError::WitnessForked { witness, size: 10 } if witness == "w3"),
            "{e}"
        );
    }
}
