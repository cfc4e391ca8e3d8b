//! The JSON Schema of every contract document, as `docs/results.schema.json`
//! holds it.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};

use crate::{AttachRecord, JournalEntry, JsonEvent, ListRow, Outcome, ResultsFile, StartRecord};

/// The JSON Schema (draft 2020-12) of each document a job writes, by the
/// document's name: `results.json`, `result.json`, `start.json`,
/// `journal.jsonl line`, `kennel run --format json line`,
/// `kennel list --json row` and `attach.json`. Each schema says what kennel
/// writes (every key it always writes is required).
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
    SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>()
}
