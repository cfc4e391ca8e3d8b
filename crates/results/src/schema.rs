//! The JSON Schema of every contract document, as `docs/results.schema.json`
//! holds it.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value};

use crate::{AttachRecord, JournalEntry, JsonEvent, ListRow, Outcome, ResultsFile, StartRecord};

/// The JSON Schema (draft 2020-12) of each document a job writes, by the
/// document's name: `results.json`, `result.json`, `start.json`,
/// `journal.jsonl line`, `kennel run --format json line`,
/// `kennel list --json row` and `attach.json`. Each schema says what kennel
/// writes (every key it always writes is required); its descriptions are the
/// types' documentation, without their Rust examples.
pub fn schemas() -> Vec<(&'static str, Schema)> {
    vec![
        ("results.json", schema_of::<ResultsFile>()),
        ("result.json", schema_of::<Outcome>()),
        ("start.json", schema_of::<StartRecord>()),
        ("journal.jsonl line", schema_of::<JournalEntry>()),
        ("kennel run --format json line", schema_of::<JsonEvent>()),
        ("kennel list --json row", schema_of::<ListRow>()),
        ("attach.json", schema_of::<AttachRecord>()),
    ]
}

fn schema_of<T: JsonSchema>() -> Schema {
    let mut schema = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>();
    if let Some(object) = schema.as_object_mut() {
        for_readers_in(object);
    }
    schema
}

/// Descriptions for readers of JSON rather than of Rust: a doc comment's
/// `# Examples` section goes, and a link to a Rust item keeps only its text.
fn for_readers(value: &mut Value) {
    match value {
        Value::Object(object) => for_readers_in(object),
        Value::Array(items) => items.iter_mut().for_each(for_readers),
        _ => {}
    }
}

/// [`for_readers`] for an object's values.
fn for_readers_in(object: &mut Map<String, Value>) {
    for (key, v) in object.iter_mut() {
        match v {
            Value::String(text) if key == "description" => *text = prose(text),
            v => for_readers(v),
        }
    }
}

/// `text` up to its `# Examples`, with links to Rust items (`` [`x`](Type::x) ``,
/// `` [`Type`] ``) as their text.
fn prose(text: &str) -> String {
    let text = text.split("\n\n# Examples").next().unwrap_or(text);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        rest = &rest[open..];
        let Some(close) = rest.find(']') else {
            break;
        };
        let label = &rest[1..close];
        let after = &rest[close + 1..];
        let target = after
            .strip_prefix('(')
            .and_then(|t| t.find(')').map(|end| (&t[..end], &t[end + 1..])));
        match target {
            Some((path, tail)) if is_rust_path(path) => {
                out.push_str(label);
                rest = tail;
            }
            None if label.starts_with('`') && label.ends_with('`') && label.len() > 1 => {
                out.push_str(label);
                rest = after;
            }
            _ => {
                out.push('[');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `Type::item`, `crate::Type`: a Rust path, not a URL.
fn is_rust_path(target: &str) -> bool {
    !target.is_empty()
        && target
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_lose_rust_examples_and_links_but_keep_their_text() {
        let doc = "Both front ends\n[`add_start`](StartRecord::add_start) it; see [`Outcome`], \
                   [the docs](https://example.org) and a[0].\n\n# Examples\n\n```\ncode\n```";

        assert_eq!(
            prose(doc),
            "Both front ends\n`add_start` it; see `Outcome`, [the docs](https://example.org) and a[0]."
        );
    }
}
