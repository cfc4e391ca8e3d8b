//! A `MAINTAINERS` file read the way QEMU's `scripts/get_maintainer.pl` reads
//! it: a section is a title line and the `L: value` entries under it, up to
//! the next title; lines that do not start with a letter and a colon at column
//! one (the file's indented preamble) are no entries. The entries that say
//! which files a section is about: `F:` (a [`FilePattern`]), `X:` (a pattern
//! excluded), `N:` (a regular expression on the file's path), `K:` (a regular
//! expression on the patch's added and removed lines). Both kinds of regular
//! expression are compiled as Perl's `/x` reads them (blanks ignored); one this
//! reader cannot compile (a Perl-only construct) is left out and named in
//! [`Maintainers::warnings`]. A line of only `-` or `=` under a title (QEMU's
//! group headings) underlines it and starts no section.

use std::path::Path;

use regex::Regex;

use crate::{ChangesError, FilePattern};

/// One section.
#[derive(Debug, Clone)]
pub struct Section {
    /// Its title line.
    pub name: String,
    /// The line of its title.
    pub line: usize,
    /// `F:` entries.
    pub files: Vec<FilePattern>,
    /// `X:` entries.
    pub excluded: Vec<FilePattern>,
    /// `N:` entries.
    pub names: Vec<Regex>,
    /// `K:` entries.
    pub keywords: Vec<Regex>,
}

impl Section {
    /// The entry by which the section is about `path` (`F: hw/net/`,
    /// `N: virtio`), unless an `X:` entry takes it out.
    pub fn rule_for(&self, path: &str) -> Option<String> {
        if self.excluded.iter().any(|x| x.matches(path)) {
            return None;
        }
        if let Some(f) = self.files.iter().find(|f| f.matches(path)) {
            return Some(format!("F: {}", f.as_str()));
        }
        self.names
            .iter()
            .find(|n| n.is_match(path))
            .map(|n| format!("N: {}", n.as_str().trim_start_matches("(?x)")))
    }

    /// The `K:` entry a line the patch adds or removes matches.
    pub fn keyword_in(&self, patch: &str) -> Option<String> {
        let changed = patch.lines().filter(|l| {
            (l.starts_with('+') && !l.starts_with("+++"))
                || (l.starts_with('-') && !l.starts_with("---"))
        });
        for line in changed {
            if let Some(k) = self.keywords.iter().find(|k| k.is_match(&line[1..])) {
                return Some(format!("K: {}", k.as_str().trim_start_matches("(?x)")));
            }
        }
        None
    }

    /// Only catch-all `F:` entries (QEMU's "THE REST": `F: *`, `F: */`).
    pub fn is_catch_all(&self) -> bool {
        !self.files.is_empty() && self.files.iter().all(FilePattern::is_catch_all)
    }
}

/// The sections of a `MAINTAINERS` file.
#[derive(Debug, Clone, Default)]
pub struct Maintainers {
    /// In file order.
    pub sections: Vec<Section>,
    /// `MAINTAINERS:LINE: ...`: entries left out.
    pub warnings: Vec<String>,
}

impl Maintainers {
    /// Read `path`.
    pub fn read(path: &Path) -> Result<Maintainers, ChangesError> {
        let text = std::fs::read_to_string(path).map_err(|source| ChangesError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Maintainers::parse(path, &text)
    }

    /// Parse `text` (read from `path`, for messages).
    pub fn parse(path: &Path, text: &str) -> Result<Maintainers, ChangesError> {
        let mut sections: Vec<Section> = Vec::new();
        let mut warnings = Vec::new();
        let mut open = false;
        for (i, line) in text.lines().enumerate() {
            let bytes = line.as_bytes();
            let entry = bytes.len() >= 2 && bytes[0].is_ascii_uppercase() && bytes[1] == b':';
            if line.trim().is_empty() {
                open = false;
                continue;
            }
            let underline = line.trim().chars().all(|c| c == '-' || c == '=');
            if !entry {
                if !line.starts_with([' ', '\t']) && !underline {
                    sections.push(Section {
                        name: line.trim().to_string(),
                        line: i + 1,
                        files: Vec::new(),
                        excluded: Vec::new(),
                        names: Vec::new(),
                        keywords: Vec::new(),
                    });
                    open = true;
                }
                continue;
            }
            let Some(section) = sections.last_mut().filter(|_| open) else {
                continue;
            };
            let value = line[2..].trim();
            let mut regex = |kind: char| match Regex::new(&format!("(?x){value}")) {
                Ok(r) => Some(r),
                Err(e) => {
                    let e = e.to_string().replace('\n', " ");
                    warnings.push(format!(
                        "{}:{}: {kind}: left out: {e}",
                        path.display(),
                        i + 1
                    ));
                    None
                }
            };
            match bytes[0] {
                b'F' => section.files.push(FilePattern::new(value)),
                b'X' => section.excluded.push(FilePattern::new(value)),
                b'N' => section.names.extend(regex('N')),
                b'K' => section.keywords.extend(regex('K')),
                _ => {}
            }
        }
        Ok(Maintainers { sections, warnings })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
QEMU Maintainers
================
\tM: Mail patches to: FullName <address@domain>

Architecture support
--------------------
Alpha Machines
F: hw/alpha/
K: (?<=lookbehind)x

Hosts
-----
M: Someone <someone@example.org>
F: hw/char/sclp*.[hc]
\tF: not an entry: indented

Network devices
M: Someone <someone@example.org>
F: hw/net/
X: hw/net/rocker/
N: virtio-net
F: tests/functional/test_net_*.py

Keyword section
K: \\bfdt_setprop\\b

THE REST
F: *
F: */
";

    fn sections() -> Maintainers {
        Maintainers::parse(Path::new("MAINTAINERS"), TEXT).expect("parses")
    }

    #[test]
    fn the_preamble_is_no_section_and_entries_are_read_per_section() {
        let m = sections();

        let names: Vec<&str> = m.sections.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "QEMU Maintainers",
                "Architecture support",
                "Alpha Machines",
                "Hosts",
                "Network devices",
                "Keyword section",
                "THE REST"
            ]
        );
        assert!(m.sections[0].files.is_empty());
        assert_eq!(
            m.sections[2].files.len(),
            1,
            "the underline starts no section"
        );
        assert_eq!(
            m.sections[3].rule_for("hw/char/sclp.c").as_deref(),
            Some("F: hw/char/sclp*.[hc]")
        );
        assert_eq!(m.sections[3].rule_for("hw/char/sclp.o"), None);
        assert_eq!(m.sections[4].files.len(), 2);
        assert!(m.sections[6].is_catch_all());
        assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
        assert!(
            m.warnings[0].starts_with("MAINTAINERS:9: K: left out"),
            "{:?}",
            m.warnings
        );
    }

    #[test]
    fn f_x_n_and_k_entries_say_which_rule_matched() {
        let m = sections();
        let net = &m.sections[4];

        assert_eq!(
            net.rule_for("hw/net/e1000.c").as_deref(),
            Some("F: hw/net/")
        );
        assert_eq!(net.rule_for("hw/net/rocker/rocker.c"), None);
        assert_eq!(
            net.rule_for("include/hw/virtio/virtio-net.h").as_deref(),
            Some("N: virtio-net")
        );
        let patch = "+++ b/hw/arm/boot.c\n+    fdt_setprop(fdt, \"/chosen\", ...);\n";
        assert_eq!(
            m.sections[5].keyword_in(patch).as_deref(),
            Some("K: \\bfdt_setprop\\b")
        );
        assert_eq!(m.sections[5].keyword_in(" fdt_setprop(x);\n"), None);
    }
}
