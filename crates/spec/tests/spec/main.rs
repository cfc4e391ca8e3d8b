//! Tests of kennel-spec's public API.

mod errors;
mod input;
mod load;
mod malformed;
mod matching;
mod migrate;
mod networks;
mod screen;
mod substitution;
mod template;
mod typed;
mod variants;

use std::path::Path;

use kennel_spec::{load_str, TestFile};

/// The path test texts are loaded as.
pub const PATH: &str = "tests/qmp/t.toml";

/// Load a text that must be a valid test.
pub fn load(text: &str) -> TestFile {
    match load_str(Path::new(PATH), text) {
        Ok(Some(test)) => test,
        Ok(None) => panic!("not a test"),
        Err(e) => panic!("load failed: {e}"),
    }
}

/// The first line (`file:line:column: message`) of the error of loading a
/// text that must be invalid.
pub fn load_err(text: &str) -> String {
    let full = load_err_full(text);
    full.lines().next().unwrap_or_default().to_owned()
}

/// The whole rendered error: its first line, then the source line and caret.
pub fn load_err_full(text: &str) -> String {
    match load_str(Path::new(PATH), text) {
        Ok(_) => panic!("loaded, expected an error"),
        Err(e) => e.to_string(),
    }
}
