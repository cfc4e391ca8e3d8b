//! [`ListRow`]: one test of `kennel list --json`.

use std::path::PathBuf;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One test of `kennel list --json`, which prints a JSON array of them, in
/// the order the tests would run. A declarative (TOML) test has no `kind`;
/// every other kind of test says its kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ListRow {
    /// A case of a declarative (TOML) test file: one per variant.
    Case(ListedCase),
    /// A Rust test (`#[kennel::test]`) of a cargo package (`--cargo`).
    CargoTest(ListedCargoTest),
    /// An executable test (its TAP points are known only when it runs).
    Executable(ListedExecutable),
    /// A test file of a QEMU source tree's `tests/functional`, for one architecture.
    QemuTest(ListedQemuTest),
}

/// A case of a declarative (TOML) test file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ListedCase {
    /// Display name, with the variant (`boot [machine=pc,cpus=2]`).
    pub name: String,
    /// The test file.
    pub file: PathBuf,
    /// The variant's values, by parameter name (empty without variants).
    pub variant: IndexMap<String, serde_json::Value>,
    /// Tags, each `${...}` rendered with the case's values.
    pub tags: Vec<String>,
    /// The file's `timeout`, in seconds.
    pub timeout_s: f64,
    /// Why the case would be SKIPped here (a requirement this host or QEMU
    /// does not meet), or why its file does not load; `null` when it would run.
    pub skip: Option<String>,
}

/// A Rust test of a cargo package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ListedCargoTest {
    /// `<package>::<test name>`.
    pub name: String,
    /// The test binary cargo built.
    pub file: PathBuf,
    /// Always `cargo`.
    pub kind: CargoKind,
    /// Its tags (`#[kennel::test(tags = [...])]`).
    pub tags: Vec<String>,
    /// Its own timeout in seconds (`#[kennel::test(timeout = "8m")]`), `null` for none.
    pub timeout_s: Option<f64>,
}

/// An executable test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ListedExecutable {
    /// Its path, as the test's name.
    pub name: String,
    /// Its path.
    pub file: PathBuf,
    /// Always `executable`.
    pub kind: ExecutableKind,
}

/// A test file of a QEMU source tree, for one architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ListedQemuTest {
    /// `<file> [<arch>]` (`<file> [<arch> <mode>]` outside system mode).
    pub name: String,
    /// The test file (`test_<name>.py`).
    pub file: PathBuf,
    /// Always `qemu-functional`.
    pub kind: QemuFunctionalKind,
    /// Its tags: its speed, `arch:<arch>`, and its mode when not system.
    pub tags: Vec<String>,
    /// Its timeout from the tree's `meson.build`, in seconds.
    pub timeout_s: f64,
    /// Why it would be SKIPped here (the run's QEMU has no binary for its
    /// architecture and mode); `null` when it would run.
    #[serde(default)]
    pub skip: Option<String>,
}

/// The `kind` of a Rust test's row: `cargo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CargoKind {
    /// `cargo`.
    Cargo,
}

/// The `kind` of an executable's row: `executable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ExecutableKind {
    /// `executable`.
    Executable,
}

/// The `kind` of a QEMU functional test's row: `qemu-functional`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum QemuFunctionalKind {
    /// `qemu-functional`.
    QemuFunctional,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_row_reads_back_as_itself() {
        let rows = r#"[{"name":"a","file":"a.toml","variant":{"cpus":2},"tags":[],"timeout_s":60.0,"skip":null},{"name":"p::t","file":"target/t","kind":"cargo","tags":["quick"],"timeout_s":480.0},{"name":"x.sh","file":"x.sh","kind":"executable"},{"name":"test_migration.py [x86_64]","file":"test_migration.py","kind":"qemu-functional","tags":["quick","arch:x86_64"],"timeout_s":60.0,"skip":null}]"#;

        let parsed: Vec<ListRow> = serde_json::from_str(rows).expect("parses");

        assert!(matches!(
            parsed.as_slice(),
            [
                ListRow::Case(_),
                ListRow::CargoTest(_),
                ListRow::Executable(_),
                ListRow::QemuTest(_)
            ]
        ));
        assert_eq!(serde_json::to_string(&parsed).expect("JSON"), rows);
    }
}
