//! A TAP point's verdict and failure text, and how unittest-style points are named.
//!
//! A failing point's text is its `not ok` line, then its TAP diagnostics (`#` lines
//! and YAML blocks after it), or else what the producer wrote on stderr before it
//! (see [`crate::streams`]). Its one-line reason is the `not ok` line followed by
//! the failure's own line: the exception of the last Python traceback in the text
//! (`AssertionError: 1 != 2`), else the text's first line.

use crate::event::{Outcome, Status};
use crate::tap::{Point, PointStatus};

/// The longest failure line kept in a reason; the whole text is in the detail.
const MAX_FAILURE_LINE: usize = 300;
/// At most this much of a point's diagnostics is kept (the end): the same bound
/// as its stderr.
const MAX_DIAGNOSTICS: usize = crate::streams::STDERR_PER_POINT;

/// A point's name: its description, else its number.
pub(crate) fn point_name(p: &Point) -> String {
    if p.description.is_empty() {
        format!("{}", p.number)
    } else {
        p.description.clone()
    }
}

/// A point's verdict; `stderr` is what the producer wrote on stderr before it.
pub(crate) fn point_outcome(p: &Point, stderr: &str) -> Outcome {
    match &p.status {
        PointStatus::Ok => Outcome::pass(),
        PointStatus::Todo(r) => {
            let mut o = Outcome::pass();
            o.reason = Some(format!("TODO (expected failure): {r}"));
            o
        }
        PointStatus::Skip(r) => Outcome::with(
            Status::Skip,
            if r.is_empty() {
                "skipped".into()
            } else {
                r.clone()
            },
        ),
        PointStatus::NotOk => {
            let head = if p.description.is_empty() {
                format!("not ok {}", p.number)
            } else {
                format!("not ok {} - {}", p.number, p.description)
            };
            let said = if p.diagnostics.is_empty() {
                stderr.trim_end().to_string()
            } else {
                last_bytes(&p.diagnostics.join("\n"), MAX_DIAGNOSTICS)
            };
            failure(&head, &said)
        }
    }
}

/// The end of `text`, at most `max` bytes of whole lines, saying when it was cut.
fn last_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let rest = kennel_config::text::last_bytes(text, max);
    let rest = rest.split_once('\n').map_or(rest, |(_, r)| r);
    format!("(earlier diagnostics cut)\n{rest}")
}

/// The outcome of a failure whose first line is `head` and whose explanation is `said`.
fn failure(head: &str, said: &str) -> Outcome {
    let mut outcome = Outcome::with(Status::Fail, head);
    if let Some(line) = failure_line(said) {
        let line: String = line.chars().take(MAX_FAILURE_LINE).collect();
        outcome.reason = Some(format!("{head}: {line}"));
    }
    if !said.trim().is_empty() {
        outcome.detail = Some(format!("{head}\n{said}"));
    }
    outcome
}

/// The line that says what failed: the exception line of the last Python
/// traceback in `text` (the first line after it, indented no deeper than its
/// `Traceback (most recent call last):` line), else the first non-empty line.
pub fn failure_line(text: &str) -> Option<&str> {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let traceback = lines.iter().rposition(|l| {
        l.trim_start()
            .starts_with("Traceback (most recent call last):")
    });
    if let Some(at) = traceback {
        let depth = indent(lines[at]);
        if let Some(l) = lines[at + 1..]
            .iter()
            .find(|l| !l.trim().is_empty() && indent(l) <= depth)
        {
            return Some(l.trim());
        }
    }
    lines.iter().map(|l| l.trim()).find(|l| !l.is_empty())
}

/// The unittest id in a point's name, when the name is one: pycotap prints
/// `test.id()` (`__main__.Class.test_name`), other runners `str(test)`
/// (`test_name (__main__.Class.test_name)`). Each part is a Python identifier.
pub fn unittest_id(point: &str) -> Option<&str> {
    let id = match point.strip_suffix(')').and_then(|p| p.split_once(" (")) {
        Some((_, inner)) => inner,
        None => point,
    };
    let parts: Vec<&str> = id.split('.').collect();
    let identifier = |p: &&str| {
        p.chars()
            .next()
            .is_some_and(|c| c == '_' || c.is_alphabetic())
            && p.chars().all(|c| c == '_' || c.is_alphanumeric())
    };
    (parts.len() >= 3 && parts.iter().all(identifier)).then_some(id)
}

/// The argument that makes a Python file run this point alone again: `Class.test_name`,
/// when the file is a `.py` unittest-style producer that ran its own tests
/// (`unittest.main()` in the file: ids start with `__main__.`), whose command line
/// then names the tests to run. Otherwise why not: a file whose tests were loaded
/// by module name (QEMU's `QemuBaseTest.main()` passes unittest an argv of its own)
/// would ignore the argument.
pub fn unittest_argument(file: &std::path::Path, point: &str) -> Result<String, NotReplayable> {
    if file.extension().and_then(|e| e.to_str()) != Some("py") {
        return Err(NotReplayable::NotPython);
    }
    let Some(id) = unittest_id(point) else {
        return Err(NotReplayable::NotUnittestId {
            point: point.to_owned(),
        });
    };
    match id.strip_prefix("__main__.") {
        Some(rest) => Ok(rest.to_string()),
        None => Err(NotReplayable::LoadedByModule { id: id.to_owned() }),
    }
}

/// Why a test point cannot be run alone again ([`unittest_argument`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotReplayable {
    /// The file is no Python unittest file.
    #[error("only a Python (.py) unittest file takes test names on its command line")]
    NotPython,
    /// The point is not named like a unittest test.
    #[error(
        "its test point `{point}` is not named as a unittest test (`__main__.Class.test_name`)"
    )]
    NotUnittestId {
        /// The point's description.
        point: String,
    },
    /// The file's `main()` chooses its tests itself.
    #[error("its tests are loaded by module name (`{id}`), by a main() that chooses them itself (as QEMU's QemuBaseTest.main() does), so test names on its command line would be ignored")]
    LoadedByModule {
        /// The point's unittest id.
        id: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn not_ok(description: &str, diagnostics: &[&str]) -> Point {
        Point {
            number: 2,
            description: description.into(),
            status: PointStatus::NotOk,
            diagnostics: diagnostics.iter().map(|d| d.to_string()).collect(),
        }
    }

    const TRACEBACK: &str = "Traceback (most recent call last):\n  File \"t.py\", line 6, in test_fail\n    self.assertEqual(1, 2)\nAssertionError: 1 != 2\n";

    #[test]
    fn a_failing_points_reason_ends_with_the_assertion_from_its_stderr() {
        let o = point_outcome(&not_ok("__main__.T.test_fail", &[]), TRACEBACK);
        assert_eq!(
            o.reason.as_deref(),
            Some("not ok 2 - __main__.T.test_fail: AssertionError: 1 != 2")
        );
        let detail = o.detail.unwrap_or_default();
        assert!(detail.starts_with("not ok 2 - __main__.T.test_fail\nTraceback"));
        assert!(detail.ends_with("AssertionError: 1 != 2"));
    }

    #[test]
    fn tap_diagnostics_win_over_stderr() {
        let o = point_outcome(&not_ok("migrates", &["expected 1 got 2"]), TRACEBACK);
        assert_eq!(
            o.reason.as_deref(),
            Some("not ok 2 - migrates: expected 1 got 2")
        );
        assert_eq!(
            o.detail.as_deref(),
            Some("not ok 2 - migrates\nexpected 1 got 2")
        );
    }

    #[test]
    fn long_diagnostics_keep_their_end() {
        let lines: Vec<String> = (0..200).map(|i| format!("{i:0>400}")).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();

        let o = point_outcome(&not_ok("chatty", &refs), "");

        let detail = o.detail.unwrap_or_default();
        assert!(detail.len() < 40 * 1024, "{}", detail.len());
        assert!(detail.contains("(earlier diagnostics cut)"));
        assert!(detail.ends_with(&lines[199]));
    }

    #[test]
    fn a_failure_that_said_nothing_is_its_not_ok_line() {
        let o = point_outcome(&not_ok("quiet", &[]), "");
        assert_eq!(o.reason.as_deref(), Some("not ok 2 - quiet"));
        assert_eq!(o.detail, None);
    }

    #[test]
    fn the_last_traceback_of_a_chain_names_the_failure() {
        let text = "Traceback (most recent call last):\n  File \"a\"\nKeyError: 'x'\n\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File \"b\"\n    raise ValueError('bad')\nValueError: bad\n";
        assert_eq!(failure_line(text), Some("ValueError: bad"));
    }

    #[test]
    fn unittest_ids_are_recognised_in_both_spellings() {
        assert_eq!(
            unittest_id("__main__.T.test_fail"),
            Some("__main__.T.test_fail")
        );
        assert_eq!(
            unittest_id("test_fail (__main__.T.test_fail)"),
            Some("__main__.T.test_fail")
        );
        assert_eq!(unittest_id("boots the guest"), None);
        assert_eq!(unittest_id("a.b"), None);
    }

    #[test]
    fn only_a_python_file_that_ran_its_own_tests_takes_test_names() {
        let py = std::path::Path::new("tests/t.py");
        assert_eq!(
            unittest_argument(py, "__main__.T.test_fail").as_deref(),
            Ok("T.test_fail")
        );
        assert!(unittest_argument(py, "test_version.Version.test_x").is_err());
        assert!(unittest_argument(py, "boots").is_err());
        let sh = std::path::Path::new("tests/t.sh");
        assert!(unittest_argument(sh, "__main__.T.test_fail").is_err());
    }
}
