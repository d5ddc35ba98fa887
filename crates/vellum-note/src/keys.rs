//! Ed25519 keys in signed-note text form.
//!
//! * private: `PRIVATE+KEY+<name>+<8 hex id>+<base64(type || 32-byte seed)>`
//! * public ("vkey"): `<name>+<8 hex id>+<base64(type || 32-byte public key)>`
//!
//! The id is always recomputed from the key and compared with the one in the
//! text: a key file whose id does not match its key is corrupt or forged, and
//! is refused rather than trusted under either id.

use std::fmt;

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::text::{b64_decode, b64_encode, is_valid_key_name};

/// Length of an Ed25519 public key or seed.
const KEY_LEN: usize = 32;
/// The fixed prefix of a private key in text form.
const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";

/// The signature type byte of a key (signed-note "signature types").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum SigType {
    /// Ed25519 over the note text (signed-note), used by logs.
    Ed25519 = 0x01,
    /// Timestamped Ed25519 cosignature v1 (tlog-cosignature), used by witnesses.
    CosignatureV1 = 0x04,
}

impl SigType {
    /// The type byte.
    pub const fn byte(self) -> u8 {
        self as u8
    }

    /// The type for a byte, if this crate supports it.
    pub const fn from_byte(byte: u8) -> Option<SigType> {
        match byte {
            0x01 => Some(SigType::Ed25519),
            0x04 => Some(SigType::CosignatureV1),
            _ => None,
        }
    }
}

impl fmt::Display for SigType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SigType::Ed25519 => write!(f, "Ed25519 (0x01)"),
            SigType::CosignatureV1 => write!(f, "Ed25519 cosignature/v1 (0x04)"),
        }
    }
}

/// Why a key in text form was refused, or a key could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A private key that does not start with `PRIVATE+KEY+`.
    #[error("a private key starts with \"PRIVATE+KEY+\"; this text does not")]
    MissingPrivatePrefix,
    /// Fewer `+`-separated fields than the format has.
    #[error("the key has no {field} field (expected <name>+<8 hex digit id>+<base64 key>)")]
    MissingField {
        /// The first field that is missing.
        field: &'static str,
    },
    /// A key name that signed-note does not allow.
    #[error(
        "invalid key name {name:?}: a key name is non-empty, with no white space, no '+' and no control characters"
    )]
    InvalidName {
        /// The name found.
        name: String,
    },
    /// The key id is not exactly eight hex digits.
    #[error("the key id must be exactly 8 hex digits, found {found:?}")]
    InvalidKeyId {
        /// The id field found.
        found: String,
    },
    /// The key material is not canonical standard base64.
    #[error("the key material is not valid standard base64 (with padding)")]
    InvalidBase64,
    /// The decoded key material has the wrong length.
    #[error("the key material is {found} bytes, expected 33 (a type byte and a 32-byte key)")]
    WrongKeyLength {
        /// The decoded length.
        found: usize,
    },
    /// A signature type byte this crate does not support.
    #[error(
        "unsupported signature type 0x{found:02x} (supported: 0x01 Ed25519, 0x04 cosignature/v1)"
    )]
    UnsupportedSigType {
        /// The type byte found.
        found: u8,
    },
    /// A supported signature type, but not the one this use needs.
    #[error("key {name:?} has signature type {found}, expected {expected}")]
    WrongSigType {
        /// The key's name.
        name: String,
        /// The type needed here.
        expected: SigType,
        /// The key's type.
        found: SigType,
    },
    /// The id in the text is not the id of the key.
    #[error("key {name:?} says its id is {stated:08x} but the key's id is {computed:08x}")]
    KeyIdMismatch {
        /// The key's name.
        name: String,
        /// The id written in the text.
        stated: u32,
        /// The id computed from name, type and public key.
        computed: u32,
    },
    /// The public key is not a valid Ed25519 point, or is of small order.
    #[error(
        "the public key is not a valid Ed25519 public key (bad encoding or a weak, small-order point)"
    )]
    InvalidPublicKey,
    /// The operating system could not provide randomness for a new key.
    #[error("could not get randomness from the operating system: {0}")]
    Randomness(getrandom::Error),
}

/// The signed-note key id: the first four bytes, big-endian, of
/// `SHA-256(name || 0x0A || type || public key)`.
pub fn key_id(name: &str, sig_type: SigType, public_key: &[u8; KEY_LEN]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', sig_type.byte()]);
    h.update(public_key);
    let digest = h.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Splits `<name>+<id>+<base64>` and checks the name and the id's form. The
/// base64 alphabet contains `+`, so only the first two separators count.
fn split_key_text(text: &str) -> Result<(&str, u32, &str), KeyError> {
    let mut fields = text.splitn(3, '+');
    let name = fields.next().unwrap_or_default();
    let id = fields
        .next()
        .ok_or(KeyError::MissingField { field: "key id" })?;
    let material = fields.next().ok_or(KeyError::MissingField {
        field: "key material",
    })?;
    if !is_valid_key_name(name) {
        return Err(KeyError::InvalidName {
            name: name.to_owned(),
        });
    }
    // from_str_radix would accept a leading '+', so check the digits first.
    let id = if id.len() == 8 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        u32::from_str_radix(id, 16).map_err(|_| KeyError::InvalidKeyId {
            found: id.to_owned(),
        })?
    } else {
        return Err(KeyError::InvalidKeyId {
            found: id.to_owned(),
        });
    };
    Ok((name, id, material))
}

/// Decodes `base64(type || 32 bytes)` into the type and the 32 bytes, keeping
/// every copy of the bytes in zeroizing buffers (they may be a secret seed).
fn decode_key_material(material: &str) -> Result<(SigType, Zeroizing<[u8; KEY_LEN]>), KeyError> {
    let raw = Zeroizing::new(b64_decode(material).ok_or(KeyError::InvalidBase64)?);
    if raw.len() != 1 + KEY_LEN {
        return Err(KeyError::WrongKeyLength { found: raw.len() });
    }
    let sig_type =
        SigType::from_byte(raw[0]).ok_or(KeyError::UnsupportedSigType { found: raw[0] })?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    key.copy_from_slice(&raw[1..]);
    Ok((sig_type, key))
}

/// Encodes `base64(type || key)`.
fn encode_key_material(sig_type: SigType, key: &[u8; KEY_LEN]) -> Zeroizing<String> {
    let mut raw = Zeroizing::new([0u8; 1 + KEY_LEN]);
    raw[0] = sig_type.byte();
    raw[1..].copy_from_slice(key);
    Zeroizing::new(b64_encode(&raw[..]))
}

/// A private Ed25519 key with its signed-note name, id and signature type.
///
/// The secret is zeroized on drop (by `ed25519_dalek::SigningKey`, and every
/// intermediate buffer here), and `Debug` prints only the public parts.
#[derive(Clone)]
pub struct SignerKey {
    name: String,
    key_id: u32,
    sig_type: SigType,
    key: SigningKey,
}

impl SignerKey {
    /// A new random key, with randomness from the operating system.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidName`] for a name signed-note does not allow;
    /// [`KeyError::Randomness`] when the OS has no randomness to give.
    pub fn generate(name: &str, sig_type: SigType) -> Result<SignerKey, KeyError> {
        let mut seed = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::fill(&mut seed[..]).map_err(KeyError::Randomness)?;
        SignerKey::from_seed(name, sig_type, &seed)
    }

    /// The key with the given 32-byte Ed25519 seed (RFC 8032 private key).
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidName`] for a name signed-note does not allow.
    pub fn from_seed(
        name: &str,
        sig_type: SigType,
        seed: &[u8; KEY_LEN],
    ) -> Result<SignerKey, KeyError> {
        if !is_valid_key_name(name) {
            return Err(KeyError::InvalidName {
                name: name.to_owned(),
            });
        }
        let key = SigningKey::from_bytes(seed);
        let key_id = key_id(name, sig_type, key.verifying_key().as_bytes());
        Ok(SignerKey {
            name: name.to_owned(),
            key_id,
            sig_type,
            key,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<8 hex id>+<base64(type || seed)>`.
    /// Surrounding ASCII white space (a key file's final newline) is ignored.
    ///
    /// # Errors
    ///
    /// A [`KeyError`] naming the first thing wrong; in particular
    /// [`KeyError::KeyIdMismatch`] when the id is not the key's.
    pub fn parse(text: &str) -> Result<SignerKey, KeyError> {
        let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
        let rest = text
            .strip_prefix(PRIVATE_PREFIX)
            .ok_or(KeyError::MissingPrivatePrefix)?;
        let (name, stated, material) = split_key_text(rest)?;
        let (sig_type, seed) = decode_key_material(material)?;
        let key = SignerKey::from_seed(name, sig_type, &seed)?;
        if key.key_id != stated {
            return Err(KeyError::KeyIdMismatch {
                name: name.to_owned(),
                stated,
                computed: key.key_id,
            });
        }
        Ok(key)
    }

    /// The private key in text form. Secret: the buffer is zeroized on drop.
    pub fn to_text(&self) -> Zeroizing<String> {
        let material = encode_key_material(self.sig_type, self.key.as_bytes());
        let mut out = Zeroizing::new(String::with_capacity(
            PRIVATE_PREFIX.len() + self.name.len() + 10 + material.len(),
        ));
        out.push_str(PRIVATE_PREFIX);
        out.push_str(&self.name);
        out.push('+');
        out.push_str(&format!("{:08x}", self.key_id));
        out.push('+');
        out.push_str(&material);
        out
    }

    /// The matching public key.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_id: self.key_id,
            sig_type: self.sig_type,
            key: self.key.verifying_key(),
        }
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature type this key is for.
    pub fn sig_type(&self) -> SigType {
        self.sig_type
    }

    /// A raw Ed25519 signature of `msg` (deterministic, RFC 8032).
    ///
    /// This signs exactly `msg`; what `msg` must be depends on the signature
    /// type (the note text for 0x01, the cosigned message for 0x04), which is
    /// the business of [`NoteSigner`](crate::NoteSigner) and
    /// [`CosignerKey`](crate::CosignerKey).
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignerKey")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .field("sig_type", &self.sig_type)
            .field("public_key", &self.verifier().to_string())
            .finish_non_exhaustive()
    }
}

/// A public Ed25519 key with its signed-note name, id and signature type.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_id: u32,
    sig_type: SigType,
    key: VerifyingKey,
}

impl VerifierKey {
    /// The verifier key for `public_key` under `name`.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidName`], or [`KeyError::InvalidPublicKey`] when the
    /// bytes are not a point or are a small-order ("weak") point, for which
    /// signatures prove nothing.
    pub fn new(
        name: &str,
        sig_type: SigType,
        public_key: &[u8; KEY_LEN],
    ) -> Result<VerifierKey, KeyError> {
        if !is_valid_key_name(name) {
            return Err(KeyError::InvalidName {
                name: name.to_owned(),
            });
        }
        let key = VerifyingKey::from_bytes(public_key).map_err(|_| KeyError::InvalidPublicKey)?;
        if key.is_weak() {
            return Err(KeyError::InvalidPublicKey);
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            key_id: key_id(name, sig_type, public_key),
            sig_type,
            key,
        })
    }

    /// Parses a vkey, `<name>+<8 hex id>+<base64(type || public key)>`.
    /// Surrounding ASCII white space is ignored.
    ///
    /// # Errors
    ///
    /// A [`KeyError`] naming the first thing wrong; in particular
    /// [`KeyError::KeyIdMismatch`] when the id is not the key's and
    /// [`KeyError::InvalidPublicKey`] for a bad or weak point.
    pub fn parse(vkey: &str) -> Result<VerifierKey, KeyError> {
        let vkey = vkey.trim_matches(|c: char| c.is_ascii_whitespace());
        let (name, stated, material) = split_key_text(vkey)?;
        let (sig_type, public_key) = decode_key_material(material)?;
        let key = VerifierKey::new(name, sig_type, &public_key)?;
        if key.key_id != stated {
            return Err(KeyError::KeyIdMismatch {
                name: name.to_owned(),
                stated,
                computed: key.key_id,
            });
        }
        Ok(key)
    }

    /// Checks that the key has signature type `expected`.
    ///
    /// # Errors
    ///
    /// [`KeyError::WrongSigType`] otherwise.
    pub fn require_type(&self, expected: SigType) -> Result<(), KeyError> {
        if self.sig_type == expected {
            Ok(())
        } else {
            Err(KeyError::WrongSigType {
                name: self.name.clone(),
                expected,
                found: self.sig_type,
            })
        }
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature type this key is for.
    pub fn sig_type(&self) -> SigType {
        self.sig_type
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; KEY_LEN] {
        self.key.to_bytes()
    }

    /// Whether `signature` is a valid Ed25519 signature of exactly `msg` by
    /// this key, under the strict rules (no small-order R, canonical S), so
    /// that no signature is accepted here that a stricter verifier refuses.
    pub fn verify_raw(&self, msg: &[u8], signature: &[u8]) -> bool {
        let Ok(bytes) = <[u8; 64]>::try_from(signature) else {
            return false;
        };
        self.key
            .verify_strict(msg, &Signature::from_bytes(&bytes))
            .is_ok()
    }
}

/// The vkey text.
impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let material = encode_key_material(self.sig_type, self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.key_id, material.as_str())
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

impl std::str::FromStr for VerifierKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VerifierKey::parse(s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a panic is the failure report.
mod tests {
    use super::*;

    const SKEY: &str =
        "PRIVATE+KEY+example.com/vellum-test+7da66be6+AVlZ93DqT1O0zTR8EWvTiHbvEbULtp/9egjAy3marz74";
    const VKEY: &str =
        "example.com/vellum-test+7da66be6+AcsxU+FUGGR6gpL9cSC1rSGLF/TvI/zr1SbsynEDqkNK";

    #[test]
    fn text_forms_round_trip() {
        let sk = SignerKey::parse(SKEY).unwrap();
        assert_eq!(sk.to_text().as_str(), SKEY);
        assert_eq!(sk.verifier().to_string(), VKEY);
        assert_eq!(VerifierKey::parse(VKEY).unwrap(), sk.verifier());
        assert_eq!(
            SignerKey::parse(&format!("{SKEY}\n")).unwrap().key_id(),
            0x7da66be6
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        let sk = SignerKey::parse(SKEY).unwrap();
        let dbg = format!("{sk:?}");
        assert!(!dbg.contains("AVlZ93DqT1O0zTR8EWvTiHbvEbULtp"), "{dbg}");
        assert!(dbg.contains("7da66be6"));
    }

    #[test]
    fn generated_keys_parse_back() {
        for t in [SigType::Ed25519, SigType::CosignatureV1] {
            let sk = SignerKey::generate("w.example/1", t).unwrap();
            let back = SignerKey::parse(&sk.to_text()).unwrap();
            assert_eq!(back.verifier(), sk.verifier());
            assert_eq!(back.sig_type(), t);
            let id = key_id("w.example/1", t, &sk.verifier().public_key());
            assert_eq!(sk.key_id(), id);
        }
    }

    #[test]
    fn refusals() {
        let cases: &[(&str, KeyError)] = &[
            (
                "example.com+7da66be6",
                KeyError::MissingField {
                    field: "key material",
                },
            ),
            ("example.com", KeyError::MissingField { field: "key id" }),
            (
                "+7da66be6+AcsxU+FUGGR6gpL9cSC1rSGLF/TvI/zr1SbsynEDqkNK",
                KeyError::InvalidName {
                    name: String::new(),
                },
            ),
            (
                "example.com/vellum-test+7da66be+AcsxU+FUGGR6gpL9cSC1rSGLF/TvI/zr1SbsynEDqkNK",
                KeyError::InvalidKeyId {
                    found: "7da66be".into(),
                },
            ),
            (
                "example.com/vellum-test+-da66be6+AcsxU+FUGGR6gpL9cSC1rSGLF/TvI/zr1SbsynEDqkNK",
                KeyError::InvalidKeyId {
                    found: "-da66be6".into(),
                },
            ),
            (
                "example.com/vellum-test+7da66be6+AcsxU+FUGGR6gpL9cSC1rSGLF/TvI/zr1SbsynEDqkN",
                KeyError::InvalidBase64,
            ),
            (
                "example.com/vellum-test+7da66be6+AQ==",
                KeyError::WrongKeyLength { found: 1 },
            ),
            (
                "example.com/vellum-test+7da66be6+AssxU+FUGGR6gpL9cSC1rSGLF/TvI/zr1SbsynEDqkNK",
                KeyError::UnsupportedSigType { found: 0x02 },
            ),
            (
                "example.com/vellum-test+7da66be7+AcsxU+FUGGR6gpL9cSC1rSGLF/TvI/zr1SbsynEDqkNK",
                KeyError::KeyIdMismatch {
                    name: "example.com/vellum-test".into(),
                    stated: 0x7da66be7,
                    computed: 0x7da66be6,
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(VerifierKey::parse(text).as_ref(), Err(want), "{text}");
        }
        assert_eq!(
            SignerKey::parse(VKEY).unwrap_err(),
            KeyError::MissingPrivatePrefix
        );
    }

    #[test]
    fn weak_and_invalid_points_are_refused() {
        // The identity point (small order) and a y coordinate not on the curve.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            VerifierKey::new("n", SigType::Ed25519, &identity),
            Err(KeyError::InvalidPublicKey)
        );
        let mut not_on_curve = [0u8; 32];
        not_on_curve[0] = 2;
        assert_eq!(
            VerifierKey::new("n", SigType::Ed25519, &not_on_curve),
            Err(KeyError::InvalidPublicKey)
        );
    }
}
