#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::collections::HashMap;

use serde::Deserialize;

use super::*;

/// A process of two keys and a table, to exercise the machinery alone.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Toy {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<PathBuf>,
    inner: Inner,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Inner {
    count: u32,
    on: bool,
}

impl Default for Toy {
    fn default() -> Self {
        Toy {
            name: "toy".into(),
            path: None,
            inner: Inner::default(),
        }
    }
}

impl Default for Inner {
    fn default() -> Self {
        Inner {
            count: 3,
            on: false,
        }
    }
}

impl Layered for Toy {
    const ENV_PREFIX: &'static str = "TOY_";
    fn every_key() -> Self {
        Toy {
            name: "n".into(),
            path: Some(PathBuf::from("p")),
            inner: Inner { count: 1, on: true },
        }
    }
}

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn keys_and_variables_are_read_off_every_key() {
    let keys: Vec<String> = Toy::keys().into_iter().collect();
    assert_eq!(keys, ["inner.count", "inner.on", "name", "path"]);
    assert_eq!(Toy::env_var("inner.count"), "TOY_INNER_COUNT");
}

#[test]
fn a_bad_key_or_value_is_named_with_its_line() {
    let e = Toy::from_toml("t.toml", "name = \"x\"\n[inner]\ncont = 2\n").unwrap_err();
    let shown = e.to_string();
    assert!(shown.starts_with("t.toml:3: inner."), "{shown}");
    assert!(shown.contains("cont"), "{shown}");
    let e = Toy::from_toml("t.toml", "\n[inner]\non = 2\n").unwrap_err();
    assert!(e.to_string().starts_with("t.toml:3: inner.on: "), "{e}");
}

#[test]
fn the_environment_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toy.toml");
    std::fs::write(&path, "name = \"file\"\n[inner]\ncount = 5\n").unwrap();
    let env = env_of(&[
        ("TOY_INNER_COUNT", "9"),
        ("TOY_INNER_ON", "1"),
        ("TOY_PATH", ""),
    ]);
    let t = Toy::load(Some(&path), env).unwrap();
    assert_eq!(t.name, "file");
    assert_eq!(t.inner, Inner { count: 9, on: true });
    assert_eq!(t.path, None, "an empty variable is unset");
    let e = Toy::load(None, env_of(&[("TOY_INNER_ON", "yes")])).unwrap_err();
    assert!(
        e.to_string().starts_with("TOY_INNER_ON (key inner.on): "),
        "{e}"
    );
    assert_eq!(Toy::load(None, |_| None).unwrap(), Toy::default());
}

#[test]
fn the_reference_is_read_per_section() {
    let doc = "# T\n\n## `toy`\n\n| key | x |\n| --- | --- |\n| `name` | a |\n| `path` | b |\n| `inner.count` | c |\n| `inner.on` | d |\n\n## `other`\n\n| `elsewhere` | e |\n";
    assert!(documented_keys(doc, "## `other`").contains("elsewhere"));
    check_reference::<Toy>(doc, "## `toy`").unwrap();
    let short = doc.replace("| `inner.on` | d |\n", "");
    let e = check_reference::<Toy>(&short, "## `toy`").unwrap_err();
    assert!(e.contains("inner.on"), "{e}");
    assert!(check_reference::<Toy>(doc, "## `missing`").is_err());
}
