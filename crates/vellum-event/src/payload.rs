//! The strict JSON reader for payloads (and for stored events).
//!
//! On top of `serde_json`'s grammar it refuses what RFC 8785 and I-JSON
//! (RFC 7493) refuse and what the limits bound, naming where (a JSON
//! Pointer): a member named twice in one object, nesting beyond the depth
//! limit, and a number of magnitude beyond 2^53. Numbers come out in the
//! form the canonical bytes read back as: an integral value as an integer
//! (`1.0` and `1e2` become `1` and `100`, `-0` becomes `0`), any other as a
//! double.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::PayloadError;
use crate::jcs::MAX_EXACT_INTEGER;

/// Reads `text` as JSON under the rules above, with `max_depth` levels of
/// arrays and objects (the outermost counting 1).
pub(crate) fn parse_strict(text: &[u8], max_depth: usize) -> Result<Value, PayloadError> {
    let ctx = Ctx {
        max_depth,
        path: RefCell::new(Vec::new()),
        failure: RefCell::new(None),
    };
    let mut de = serde_json::Deserializer::from_slice(text);
    let parsed = Seed {
        ctx: &ctx,
        depth: 0,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    match parsed {
        Ok(v) => Ok(v),
        Err(e) => Err(ctx
            .failure
            .into_inner()
            .unwrap_or_else(|| PayloadError::Syntax(e.to_string()))),
    }
}

/// Reads a submitted payload: bounded in size, UTF-8, JSON, an object.
pub(crate) fn parse_payload(
    bytes: &[u8],
    max_bytes: usize,
    max_depth: usize,
) -> Result<Map<String, Value>, PayloadError> {
    if bytes.len() > max_bytes {
        return Err(PayloadError::TooLarge {
            len: bytes.len(),
            limit: max_bytes,
        });
    }
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(PayloadError::NotUtf8 {
            valid_up_to: e.valid_up_to(),
        });
    }
    match parse_strict(bytes, max_depth)? {
        Value::Object(map) => Ok(map),
        other => Err(PayloadError::NotAnObject {
            found: kind_of(&other),
        }),
    }
}

/// `an object`, `a string`, ... for messages.
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

struct Ctx {
    max_depth: usize,
    path: RefCell<Vec<String>>,
    failure: RefCell<Option<PayloadError>>,
}

impl Ctx {
    /// The current position as an RFC 6901 JSON Pointer (`""` is the root).
    fn pointer(&self) -> String {
        let mut out = String::new();
        for token in self.path.borrow().iter() {
            out.push('/');
            out.push_str(&token.replace('~', "~0").replace('/', "~1"));
        }
        out
    }

    fn fail<E: de::Error>(&self, err: PayloadError) -> E {
        let msg = err.to_string();
        *self.failure.borrow_mut() = Some(err);
        E::custom(msg)
    }

    fn number<E: de::Error>(
        &self,
        magnitude: u64,
        n: Number,
        literal: impl fmt::Display,
    ) -> Result<Value, E> {
        if magnitude <= MAX_EXACT_INTEGER {
            Ok(Value::Number(n))
        } else {
            Err(self.fail(PayloadError::InexactInteger {
                at: self.pointer(),
                number: literal.to_string(),
            }))
        }
    }
}

#[derive(Clone, Copy)]
struct Seed<'a> {
    ctx: &'a Ctx,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'a> Seed<'a> {
    fn enter<E: de::Error>(self) -> Result<Seed<'a>, E> {
        if self.depth >= self.ctx.max_depth {
            return Err(self.ctx.fail(PayloadError::TooDeep {
                at: self.ctx.pointer(),
                limit: self.ctx.max_depth,
            }));
        }
        Ok(Seed {
            ctx: self.ctx,
            depth: self.depth + 1,
        })
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        self.ctx.number(u, Number::from(u), u)
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Value, E> {
        self.ctx.number(i.unsigned_abs(), Number::from(i), i)
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        // Every double of magnitude at least 2^52 is an integer; so this
        // bound refuses exactly the integral values beyond 2^53.
        if f.abs() > MAX_EXACT_INTEGER as f64 {
            return Err(self.ctx.fail(PayloadError::InexactInteger {
                at: self.ctx.pointer(),
                number: f.to_string(),
            }));
        }
        if f.fract() == 0.0 {
            // Within ±2^53 the cast is exact; -0 becomes 0.
            #[allow(clippy::cast_possible_truncation)]
            let i = f as i64;
            return Ok(Value::Number(Number::from(i)));
        }
        match Number::from_f64(f) {
            Some(n) => Ok(Value::Number(n)),
            None => Err(E::custom("a number JSON cannot hold")),
        }
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.enter()?;
        let mut items = Vec::new();
        loop {
            self.ctx.path.borrow_mut().push(items.len().to_string());
            let next = seq.next_element_seed(inner)?;
            self.ctx.path.borrow_mut().pop();
            match next {
                Some(v) => items.push(v),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.enter()?;
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.contains_key(&name) {
                return Err(self.ctx.fail(PayloadError::DuplicateKey {
                    at: self.ctx.pointer(),
                    name,
                }));
            }
            self.ctx.path.borrow_mut().push(name.clone());
            let v = map.next_value_seed(inner)?;
            self.ctx.path.borrow_mut().pop();
            members.insert(name, v);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_back_as_the_canonical_form_does() {
        let v = parse_strict(
            br#"[1.0, 1e2, -0, -0.0, 1.5, 9007199254740992, -9007199254740992]"#,
            8,
        )
        .expect("parses");
        assert_eq!(
            crate::jcs::canonicalize(&v),
            b"[1,100,0,0,1.5,9007199254740992,-9007199254740992]"
        );
        assert_eq!(
            v,
            serde_json::from_str::<Value>("[1,100,0,0,1.5,9007199254740992,-9007199254740992]")
                .expect("json")
        );
    }

    #[test]
    fn refusals_name_where() {
        let cases: [(&[u8], PayloadError); 4] = [
            (
                br#"{"a":{"b":1,"b":2}}"#,
                PayloadError::DuplicateKey {
                    at: "/a".into(),
                    name: "b".into(),
                },
            ),
            (
                br#"{"a":[0,9007199254740993]}"#,
                PayloadError::InexactInteger {
                    at: "/a/1".into(),
                    number: "9007199254740993".into(),
                },
            ),
            (
                br#"{"x/y":[1e300]}"#,
                PayloadError::InexactInteger {
                    at: "/x~1y/0".into(),
                    number: 1e300_f64.to_string(),
                },
            ),
            (
                br#"{"a":[[[1]]]}"#,
                PayloadError::TooDeep {
                    at: "/a/0/0".into(),
                    limit: 3,
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(
                parse_strict(text, 3),
                Err(want),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
        assert!(matches!(
            parse_strict(b"{\"a\":1} x", 3),
            Err(PayloadError::Syntax(_))
        ));
        assert!(matches!(
            parse_strict(b"[1e400]", 3),
            Err(PayloadError::Syntax(_))
        ));
    }
}
