//! A streaming TAP (Test Anything Protocol, versions 12–14) reader: enough to turn
//! a TAP producer's output into one result per test point.

/// What a test point said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PointStatus {
    /// `ok`.
    Ok,
    /// `not ok`.
    NotOk,
    /// `ok ... # SKIP reason` (or `not ok # SKIP`).
    Skip(String),
    /// `not ok ... # TODO reason`: an expected failure.
    Todo(String),
}

/// One `ok` / `not ok` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    /// Its number (given, or counted).
    pub number: u64,
    /// The description after the number (and an optional `- `).
    pub description: String,
    /// The verdict.
    pub status: PointStatus,
    /// Diagnostics (`# ...` lines and YAML blocks) that followed it, trimmed to a few lines.
    pub diagnostics: Vec<String>,
}

/// What a TAP stream said, so far.
#[derive(Debug, Default)]
pub struct TapReader {
    /// Planned count (`1..N`), if seen.
    pub plan: Option<u64>,
    /// Plan with `# SKIP`: the whole producer skipped.
    pub skip_all: Option<String>,
    /// `Bail out!` reason.
    pub bailed: Option<String>,
    /// Test points, in order.
    pub points: Vec<Point>,
    partial: Vec<u8>,
    in_yaml: bool,
    /// Indentation of the open YAML block's first line, removed from each of its lines.
    yaml_indent: Option<usize>,
}

/// How many diagnostic lines are kept per point (a Python traceback in a YAML
/// block ends with the line that matters).
const MAX_DIAG: usize = 200;
/// Longest line kept for parsing; longer lines are cut (they are still logged whole).
const MAX_LINE: usize = 64 * 1024;

impl TapReader {
    /// Feed raw bytes as they come.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Point> {
        let mut finished = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                let line = String::from_utf8_lossy(&self.partial).into_owned();
                self.partial.clear();
                if let Some(p) = self.line(line.trim_end_matches('\r')) {
                    finished.push(p);
                }
            } else if self.partial.len() < MAX_LINE {
                self.partial.push(b);
            }
        }
        finished
    }

    /// The stream ended: parse a last line without a newline.
    pub fn finish(&mut self) -> Vec<Point> {
        if self.partial.is_empty() {
            return Vec::new();
        }
        let line = String::from_utf8_lossy(&self.partial).into_owned();
        self.partial.clear();
        self.line(&line).into_iter().collect()
    }

    /// True once anything TAP-shaped (a plan, a point, a bail-out) was seen.
    pub fn is_tap(&self) -> bool {
        self.plan.is_some() || !self.points.is_empty() || self.bailed.is_some()
    }

    fn line(&mut self, line: &str) -> Option<Point> {
        let trimmed = line.trim_start();
        if self.in_yaml {
            if trimmed == "..." {
                self.in_yaml = false;
            } else {
                // Keep the block's inner indentation: it shows a traceback's shape.
                let indent = line.len() - trimmed.len();
                let base = *self.yaml_indent.get_or_insert(indent);
                let kept = line.get(base.min(indent)..).unwrap_or(trimmed);
                self.diag(kept.trim_end());
            }
            return None;
        }
        if trimmed == "---" && !self.points.is_empty() {
            self.in_yaml = true;
            self.yaml_indent = None;
            return None;
        }
        // Subtests are indented; only the top level counts.
        if line.starts_with(' ') || line.starts_with('\t') {
            return None;
        }
        if let Some(rest) = line.strip_prefix("1..") {
            let (count, directive) = split_directive(rest);
            self.plan = count.trim().parse().ok();
            if self.plan == Some(0) {
                self.skip_all = Some(directive.map(|(_, r)| r).unwrap_or_default());
            }
            return None;
        }
        if let Some(reason) = line.strip_prefix("Bail out!") {
            self.bailed = Some(reason.trim().to_string());
            return None;
        }
        if let Some(d) = line.strip_prefix('#') {
            self.diag(d.trim());
            return None;
        }
        let (ok, rest) = if let Some(r) = line.strip_prefix("not ok") {
            (false, r)
        } else if let Some(r) = line.strip_prefix("ok") {
            (true, r)
        } else {
            return None;
        };
        if !(rest.is_empty() || rest.starts_with(' ')) {
            return None;
        }
        let rest = rest.trim_start();
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        let number = digits.parse().unwrap_or(self.points.len() as u64 + 1);
        let rest = rest[digits.len()..].trim_start();
        let rest = rest.strip_prefix("- ").unwrap_or(rest);
        let (description, directive) = split_directive(rest);
        let status = match directive {
            Some((d, reason)) if d.eq_ignore_ascii_case("skip") => PointStatus::Skip(reason),
            Some((d, reason)) if d.eq_ignore_ascii_case("todo") && !ok => PointStatus::Todo(reason),
            _ if ok => PointStatus::Ok,
            _ => PointStatus::NotOk,
        };
        let point = Point {
            number,
            description: description.trim().to_string(),
            status,
            diagnostics: Vec::new(),
        };
        self.points.push(point.clone());
        Some(point)
    }

    fn diag(&mut self, text: &str) {
        if let Some(p) = self.points.last_mut() {
            if p.diagnostics.len() < MAX_DIAG {
                p.diagnostics.push(text.to_string());
            }
        }
    }
}

/// Split `desc # SKIP reason` into the description and (directive, reason).
fn split_directive(s: &str) -> (String, Option<(String, String)>) {
    let mut search = 0;
    while let Some(pos) = s[search..].find('#') {
        let at = search + pos;
        if at > 0 && s.as_bytes()[at - 1] == b'\\' {
            search = at + 1;
            continue;
        }
        let after = s[at + 1..].trim_start();
        let word: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        if word.len() >= 4
            && (word[..4].eq_ignore_ascii_case("skip") || word[..4].eq_ignore_ascii_case("todo"))
        {
            let reason = after[word.len()..].trim().to_string();
            return (
                s[..at].trim_end().replace("\\#", "#"),
                Some((word[..4].to_string(), reason)),
            );
        }
        search = at + 1;
    }
    (s.replace("\\#", "#"), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> TapReader {
        let mut r = TapReader::default();
        r.feed(text.as_bytes());
        r.finish();
        r
    }

    #[test]
    fn points_plans_and_directives_are_read() {
        let r = read("TAP version 13\n1..4\nok 1 - boots\nnot ok 2 - migrates\n# expected 1 got 2\nok 3 - kvm # SKIP no KVM here\nnot ok 4 known bug # TODO fix later\n");
        assert_eq!(r.plan, Some(4));
        assert_eq!(r.points.len(), 4);
        assert_eq!(r.points[0].description, "boots");
        assert_eq!(r.points[1].status, PointStatus::NotOk);
        assert_eq!(
            r.points[1].diagnostics,
            vec!["expected 1 got 2".to_string()]
        );
        assert_eq!(r.points[2].status, PointStatus::Skip("no KVM here".into()));
        assert_eq!(r.points[3].status, PointStatus::Todo("fix later".into()));
    }

    #[test]
    fn lines_split_across_chunks_are_joined() {
        let mut r = TapReader::default();
        r.feed(b"1..1\no");
        r.feed(b"k 1 - split\n");
        assert_eq!(r.points[0].description, "split");
    }

    #[test]
    fn skip_all_plan_and_bail_out_are_seen() {
        assert_eq!(
            read("1..0 # SKIP no QEMU\n").skip_all.as_deref(),
            Some("no QEMU")
        );
        assert_eq!(
            read("1..2\nok 1\nBail out! disk full\n").bailed.as_deref(),
            Some("disk full")
        );
    }

    #[test]
    fn plain_output_is_not_tap() {
        assert!(!read("hello\nokay then\n").is_tap());
    }

    #[test]
    fn a_yaml_block_keeps_its_inner_indentation() {
        let r = read("not ok 1 t.T.test_x\n  ---\n    message: |\n      Traceback (most recent call last):\n        File \"t.py\", line 3\n      AssertionError: 1 != 2\n  ...\n");
        assert_eq!(
            r.points[0].diagnostics,
            vec![
                "message: |",
                "  Traceback (most recent call last):",
                "    File \"t.py\", line 3",
                "  AssertionError: 1 != 2",
            ]
        );
    }

    #[test]
    fn escaped_hash_is_part_of_the_description() {
        let r = read("ok 1 - issue \\#42 fixed\n");
        assert_eq!(r.points[0].description, "issue #42 fixed");
        assert_eq!(r.points[0].status, PointStatus::Ok);
    }
}
