//! [`FilePattern`]: a `MAINTAINERS` `F:`/`X:` entry or a test's `covers`
//! pattern, matched as `scripts/get_maintainer.pl` matches `F:`.

/// A file pattern relative to the repository's top (see the crate's
/// documentation).
///
/// ```
/// use kennel_changes::FilePattern;
/// let dir = FilePattern::new("hw/net/");
/// assert!(dir.matches("hw/net/e1000.c") && dir.matches("hw/net/rocker/rocker.c"));
/// let glob = FilePattern::new("hw/net/*");
/// assert!(glob.matches("hw/net/e1000.c") && !glob.matches("hw/net/rocker/rocker.c"));
/// let file = FilePattern::new("hw/net/virtio-net.c");
/// assert!(file.matches("hw/net/virtio-net.c") && !file.matches("hw/net/virtio-net.h"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePattern {
    text: String,
}

impl FilePattern {
    /// The pattern as written (a leading `./` dropped).
    pub fn new(text: &str) -> FilePattern {
        FilePattern {
            text: text.trim().trim_start_matches("./").to_string(),
        }
    }

    /// As written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the folder pattern (`dir/`) or glob matches `path`.
    pub fn matches(&self, path: &str) -> bool {
        if let Some(dir) = self.text.strip_suffix('/') {
            return dir.is_empty() || glob_prefix(dir, path);
        }
        let depth = |s: &str| s.matches('/').count();
        glob(self.text.as_bytes(), path.as_bytes()) && depth(&self.text) == depth(path)
            || (!self.text.contains(['*', '?']) && glob_prefix(&self.text, path))
    }

    /// Whether it names every file (`*`, `*/`), as QEMU's "THE REST" section does.
    pub fn is_catch_all(&self) -> bool {
        matches!(self.text.as_str(), "*" | "*/" | "/" | "")
    }
}

/// `path` is below the folder `dir` (a glob): some `dir/` prefix of it matches.
fn glob_prefix(dir: &str, path: &str) -> bool {
    path.match_indices('/').any(|(at, _)| {
        glob(dir.as_bytes(), &path.as_bytes()[..at])
            && dir.matches('/').count() == path[..at].matches('/').count()
    })
}

/// `*` any run of characters (as get_maintainer.pl's `.*`), `?` one, `[hc]`
/// one of a set (get_maintainer.pl leaves it to Perl's regular expression).
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut back: Option<(usize, usize)> = None;
    while si < s.len() {
        let class = (p.get(pi) == Some(&b'['))
            .then(|| p[pi..].iter().position(|&c| c == b']'))
            .flatten();
        match p.get(pi) {
            Some(b'*') => {
                back = Some((pi, si));
                pi += 1;
            }
            Some(b'[') if class.is_some_and(|end| p[pi + 1..pi + end].contains(&s[si])) => {
                pi += class.unwrap_or(0) + 1;
                si += 1;
            }
            Some(&c) if class.is_none() && (c == b'?' || c == s[si]) => {
                pi += 1;
                si += 1;
            }
            _ => match back {
                Some((bp, bs)) => {
                    pi = bp + 1;
                    si = bs + 1;
                    back = Some((bp, bs + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_without_a_slash_is_everything_below_it_as_get_maintainer_treats_a_directory() {
        let p = FilePattern::new("tests/functional");

        assert!(p.matches("tests/functional/test_version.py"));
        assert!(p.matches("tests/functional/x86_64/test_acpi.py"));
        assert!(!p.matches("tests/functional_other/x.py"));
    }

    #[test]
    fn a_glob_in_a_folder_part_and_question_marks_match() {
        assert!(FilePattern::new("hw/*/virtio-*.c").matches("hw/net/virtio-net.c"));
        assert!(FilePattern::new("tests/functional/test_ppc??_*.py")
            .matches("tests/functional/test_ppc64_pseries.py"));
        assert!(!FilePattern::new("tests/functional/test_ppc_*.py")
            .matches("tests/functional/test_arm_virt.py"));
        assert!(FilePattern::new("*/").is_catch_all());
    }
}
