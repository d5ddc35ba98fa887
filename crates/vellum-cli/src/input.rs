//! Reading what the operator hands over: files or stdin (`-`), with a size
//! limit, and vkeys given inline or as `@FILE`.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use vellum_note::VerifierKey;

/// A file argument where `-` means stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Standard input.
    Stdin,
    /// A file.
    File(PathBuf),
}

impl Source {
    /// The argument as clap hands it over; never fails.
    pub fn parse(arg: &str) -> Result<Source, std::convert::Infallible> {
        Ok(if arg == "-" {
            Source::Stdin
        } else {
            Source::File(PathBuf::from(arg))
        })
    }

    /// All of it, refusing more than `max` bytes without reading them all:
    /// parsers would refuse a larger input anyway, so reading it whole could
    /// only exhaust memory.
    ///
    /// # Errors
    ///
    /// The file cannot be opened or read, or holds more than `max` bytes.
    pub fn read(&self, max: usize) -> anyhow::Result<Vec<u8>> {
        let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
        let mut buf = Vec::new();
        match self {
            Source::Stdin => std::io::stdin()
                .lock()
                .take(limit)
                .read_to_end(&mut buf)
                .with_context(|| format!("cannot read {self}"))?,
            Source::File(path) => std::fs::File::open(path)
                .and_then(|f| f.take(limit).read_to_end(&mut buf))
                .with_context(|| format!("cannot read {self}"))?,
        };
        if buf.len() > max {
            anyhow::bail!("{self} is larger than the {max}-byte limit");
        }
        Ok(buf)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Stdin => f.write_str("standard input"),
            Source::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Largest vkey file read: a vkey is one short line.
const MAX_VKEY_FILE: usize = 4096;

/// A vkey given inline (`example.com/log+1234abcd+AQ...`) or as `@FILE`, a
/// file holding one. Used as a clap `value_parser`, so a bad key is a usage
/// error (exit 2) that names the argument.
///
/// # Errors
///
/// The file cannot be read, or the text is not a vkey (the key parser's
/// reason).
pub fn vkey(arg: &str) -> Result<VerifierKey, String> {
    match arg.strip_prefix('@') {
        Some(path) => {
            let text = Source::File(Path::new(path).to_owned())
                .read(MAX_VKEY_FILE)
                .map_err(|e| format!("{e:#}"))?;
            let text = String::from_utf8(text)
                .map_err(|_| format!("{path} does not hold a vkey: it is not UTF-8 text"))?;
            VerifierKey::parse(&text).map_err(|e| format!("{path} does not hold a vkey: {e}"))
        }
        None => VerifierKey::parse(arg).map_err(|e| e.to_string()),
    }
}
