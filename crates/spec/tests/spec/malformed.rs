//! A malformed file for each kind of load error, with the exact line and
//! column of the mistake (not of where the parser gave up, nor of the table
//! holding it) and the source line with a caret under it.

use std::path::Path;

use kennel_spec::load_file;

use crate::{load, load_err, load_err_full};

#[test]
fn unterminated_string_is_reported_at_its_opening_quote() {
    let err = load_err("[machine]\nargs = [\"-S\", \"-nodefaults,\n  \"-m\", \"1G\"]\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:2:15: unterminated string: this `\"` is not closed on its line"
    );
}

#[test]
fn unterminated_literal_string_is_reported_at_its_opening_quote() {
    let err = load_err("[machine]\ntype = 'none\nmemory = \"1G\"\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:2:8: unterminated string: this `'` is not closed on its line"
    );
}

#[test]
fn unterminated_multi_line_string_is_reported_where_it_opens() {
    let err = load_err("[machine]\nappend = \"\"\"console=ttyS0\n\n[[step]]\nrunning = true\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:2:10: unterminated multi-line string: `\"\"\"` is never closed"
    );
}

#[test]
fn array_missing_its_bracket_before_a_table_is_reported_at_its_opening_bracket() {
    let err = load_err("[machine]\nargs = [\"-S\", \"-nodefaults\"\n\n[[step]]\nrunning = true\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:2:8: this `[` is never closed: expected `]` before the next key or table"
    );
}

#[test]
fn array_missing_its_bracket_before_a_key_is_reported_at_its_opening_bracket() {
    let err = load_err("[machine]\nargs = [\"-S\",\n  \"-nodefaults\"\nmemory = \"1G\"\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:2:8: this `[` is never closed: expected `]` before the next key or table"
    );
}

#[test]
fn table_header_missing_its_bracket_is_reported_at_the_end_of_its_name() {
    let err = load_err("[machine\ntype = \"none\"\n");

    assert_eq!(err, "tests/qmp/t.toml:1:9: unclosed table, expected `]`");
}

#[test]
fn unknown_machine_key_is_reported_at_the_key_not_the_header() {
    let err = load_err("[machine]\ntype = \"none\"\n\n  bogus = 1\n");

    assert!(
        err.starts_with("tests/qmp/t.toml:4:3: unknown field `bogus`"),
        "{err}"
    );
}

#[test]
fn unknown_variable_in_args_is_reported_at_its_string() {
    let test = load("[machine]\ntype = \"none\"\nargs = [\n  \"-S\",\n  \"-m\", \"${mem}\",\n]\n");

    let err = test.check_vars(&[]).expect_err("mem is unknown");

    assert_eq!(err.position(), Some((5, 9)));
}

#[test]
fn unknown_variable_in_requires_is_reported_at_its_string() {
    let test = load("[requires]\ndevices = [\"virtio-net-pci\", \"${nic}\"]\n[machine]\n");

    let err = test.check_vars(&[]).expect_err("nic is unknown");

    assert_eq!(err.position(), Some((2, 30)));
}

#[test]
fn unknown_variable_in_a_typed_value_is_reported_at_its_string() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("t.toml");
    std::fs::write(&path, "[machine]\ntype = \"none\"\n\ncpus = \"${cpus}\"\n").expect("write");
    let test = load_file(&path).expect("loads").expect("a test");

    let err = test.check_vars(&[]).expect_err("cpus is unknown");

    assert_eq!(err.position(), Some((4, 8)));
    assert_eq!(err.snippet(), "  |\n4 | cpus = \"${cpus}\"\n  |        ^");
}

#[test]
fn negative_retries_is_a_load_error_at_the_value() {
    let err = load_err("retries = -1\n[machine]\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:1:11: `retries` is a count: expected an integer from 0 to 4294967295, found -1"
    );
}

#[test]
fn zero_cpus_is_a_load_error_at_the_value() {
    let err = load_err("[machine]\ncpus = 0\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:2:8: expected a positive integer, found 0"
    );
}

#[test]
fn exit_code_beyond_255_is_a_load_error_at_the_value() {
    let err = load_err("[machine]\n[[step]]\nrun = \"true\"\nexit_code = 256\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:4:13: expected an exit code from 0 to 255 or a string holding `${name}`, found integer 256"
    );
}

#[test]
fn error_shows_the_source_line_with_a_caret_under_the_column() {
    let err = load_err_full("[machine]\ntype = \"none\"\nbogus = 1\n");

    let snippet: Vec<&str> = err.lines().skip(1).collect();
    assert_eq!(snippet, ["  |", "3 | bogus = 1", "  | ^"]);
}

#[test]
fn caret_counts_characters_not_bytes() {
    let err = load_err_full("name = \"é\"\n[machine]\ntype = \"é\"\n  bad = 1\n");

    let snippet: Vec<&str> = err.lines().skip(1).collect();
    assert_eq!(snippet, ["  |", "4 |   bad = 1", "  |   ^"]);
}

#[test]
fn file_read_error_has_no_position() {
    let err = load_file(Path::new("/nonexistent/t.toml")).expect_err("no such file");

    assert_eq!(err.position(), None);
    assert_eq!(err.snippet(), "");
}

#[test]
fn a_string_where_a_list_goes_that_is_not_one_variable_is_reported_at_the_string() {
    let err = load_err("[machine]\ntype = \"none\"\nargs = \"-S\"\n");

    assert_eq!(
        err,
        "tests/qmp/t.toml:3:8: `args` must be an array, or a string that is exactly one `${name}` (a variant or parameter whose value is an array), found \"-S\""
    );
}
