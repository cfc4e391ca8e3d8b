//! `results.json`'s `options`: how a job was run, read back by `kennel replay`.

use std::path::PathBuf;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a job was run, as recorded in `results.json` (`options`) so that
/// `kennel replay` can run it again the same way. Every key may be missing from an
/// older file: a missing key reads as its default. The runner keeps them in the
/// journal's first line too, so that `results.json` can be rebuilt from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct RunOptions {
    /// The paths the tests were discovered under: the command line's, else
    /// `kennel.toml`'s `paths`, else `tests`.
    pub paths: Vec<PathBuf>,
    /// `-p` parameters, by name, with their values as typed.
    pub params: IndexMap<String, serde_json::Value>,
    /// `-t` tag filters, as given (one entry per `-t`).
    pub tags: Vec<String>,
    /// `--shard K/N`, as given (`null` for a whole job, and in a merged job).
    pub shard: Option<String>,
    /// `--qemu`: the QEMU binary or build folder given (`null`: the default).
    pub qemu: Option<PathBuf>,
    /// `--qemu-arch ARCH=PATH`: the QEMU binary given for an architecture, by
    /// architecture (empty: none given).
    pub qemu_arch: IndexMap<String, PathBuf>,
    /// `--timeout-factor` (1 by default).
    pub timeout_factor: f64,
    /// `--cargo`: Rust tests of cargo packages ran too.
    pub cargo: bool,
    /// `--package`: the cargo packages (empty: the workspace).
    pub packages: Vec<String>,
    /// The folder `kennel run` ran in (absolute): `kennel replay` runs the
    /// tests from there, so that relative `paths` and test files mean what
    /// they meant, from whatever folder it is typed in. `null` in older files.
    pub dir: Option<PathBuf>,
    /// Where `shard` came from when no `--shard` was given: the CI's
    /// variables, as `CI_NODE_INDEX=2 CI_NODE_TOTAL=3` (GitLab) or
    /// `JOB_COMPLETION_INDEX=1 JOB_COMPLETIONS=3` (a Kubernetes Indexed Job).
    pub shard_from: Option<String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            paths: Vec::new(),
            params: IndexMap::new(),
            tags: Vec::new(),
            shard: None,
            qemu: None,
            qemu_arch: IndexMap::new(),
            timeout_factor: 1.0,
            cargo: false,
            packages: Vec::new(),
            dir: None,
            shard_from: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_of_an_older_results_json_read_back() {
        let old = r#"{"paths": ["tests"], "params": {"cpus": 2}, "tags": [],
                      "shard": null, "qemu": "/usr/bin/qemu-system-x86_64", "timeout_factor": 2.0}"#;

        let options: RunOptions = serde_json::from_str(old).expect("parses");

        assert_eq!(options.paths, [PathBuf::from("tests")]);
        assert_eq!(options.params["cpus"], 2);
        assert_eq!(options.timeout_factor, 2.0);
        assert!(!options.cargo);
    }

    #[test]
    fn missing_keys_read_as_defaults() {
        let options: RunOptions = serde_json::from_str("{}").expect("parses");

        assert_eq!(options, RunOptions::default());
    }
}
