//! `docs/results.schema.json` is the JSON Schema of the contract's types, as
//! they are: a change to a type changes the schema, and shows in review.

use std::path::PathBuf;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/results.schema.json")
}

/// The schemas as the committed file holds them: one JSON object whose keys
/// name the documents, pretty-printed, with a final newline.
fn generated() -> String {
    let mut all = serde_json::Map::new();
    for (name, schema) in kennel_results::schemas() {
        all.insert(name.to_owned(), schema.to_value());
    }
    let mut text = serde_json::to_string_pretty(&all).expect("a schema is JSON");
    text.push('\n');
    text
}

#[test]
fn the_committed_schema_is_the_schema_of_the_types() {
    let path = committed_path();
    let generated = generated();
    if std::env::var_os("KENNEL_BLESS_SCHEMA").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).expect("docs/results.schema.json written");
        return;
    }

    let committed = std::fs::read_to_string(&path).unwrap_or_default();

    assert!(
        committed == generated,
        "{} is not the schema of kennel-results' types: if the change is meant, run \
         `KENNEL_BLESS_SCHEMA=1 cargo test -p kennel-results --test schema` to rewrite it, \
         and commit it",
        path.display()
    );
}

#[test]
fn every_document_of_the_contract_has_a_schema() {
    let names: Vec<&str> = kennel_results::schemas().iter().map(|(n, _)| *n).collect();

    assert_eq!(
        names,
        [
            "results.json",
            "result.json",
            "start.json",
            "journal.jsonl line",
            "kennel run --format json line",
            "kennel list --json row",
            "attach.json"
        ]
    );
}
