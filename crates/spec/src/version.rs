//! QEMU version requirements: `">=7.2"`, `"<8.1.0, >7"`.

use std::cmp::Ordering;
use std::fmt;

/// A version requirement that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad version requirement {input:?}: {reason} (expected e.g. \">=7.2\", \"<8.1.0\", \"=7.2\", \">=7, <9\")")]
pub struct VersionReqError {
    input: String,
    reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Comparator {
    op: Op,
    /// One to three components.
    version: Vec<u64>,
}

impl Comparator {
    /// Compare on the components written only, like Cargo: `>7` means "8.0.0
    /// or later", `<=7.2` includes 7.2.9, `=7.2` and `7.2` match any 7.2.x.
    fn matches(&self, actual: [u64; 3]) -> bool {
        let ord = actual[..self.version.len()].cmp(&self.version[..]);
        match self.op {
            Op::Eq => ord == Ordering::Equal,
            Op::Ne => ord != Ordering::Equal,
            Op::Gt => ord == Ordering::Greater,
            Op::Ge => ord != Ordering::Less,
            Op::Lt => ord == Ordering::Less,
            Op::Le => ord != Ordering::Greater,
        }
    }
}

/// A requirement on the QEMU version: comma-separated comparisons that must
/// all hold. Operators `>=`, `>`, `<=`, `<`, `=`, `!=`; no operator means `=`.
/// A partial version compares on the components written (`=7.2` matches any
/// 7.2.x, `>7` needs 8 or later).
///
/// # Examples
///
/// ```
/// use kennel_spec::VersionReq;
/// let req = VersionReq::parse(">=7.2, <9").unwrap();
/// assert!(req.matches(8, 2, 1));
/// assert!(!req.matches(7, 1, 0));
/// assert!(!req.matches(9, 0, 0));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionReq {
    source: String,
    comparators: Vec<Comparator>,
}

impl VersionReq {
    /// Parse a requirement.
    pub fn parse(s: &str) -> Result<VersionReq, VersionReqError> {
        let err = |reason: String| VersionReqError {
            input: s.to_owned(),
            reason,
        };
        let mut comparators = Vec::new();
        for term in s.split(',') {
            let term = term.trim();
            if term.is_empty() {
                return Err(err("empty comparison".to_owned()));
            }
            let (op, rest) = [
                (">=", Op::Ge),
                ("<=", Op::Le),
                ("!=", Op::Ne),
                ("==", Op::Eq),
                (">", Op::Gt),
                ("<", Op::Lt),
                ("=", Op::Eq),
            ]
            .iter()
            .find_map(|(prefix, op)| term.strip_prefix(prefix).map(|rest| (*op, rest)))
            .unwrap_or((Op::Eq, term));
            let rest = rest.trim();
            let version = rest
                .split('.')
                .map(|c| c.parse::<u64>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| err(format!("`{rest}` is not a version like 7.2 or 7.2.0")))?;
            if version.is_empty() || version.len() > 3 {
                return Err(err(format!("`{rest}` is not a version like 7.2 or 7.2.0")));
            }
            comparators.push(Comparator { op, version });
        }
        Ok(VersionReq {
            source: s.to_owned(),
            comparators,
        })
    }

    /// Whether version `major.minor.micro` satisfies every comparison.
    pub fn matches(&self, major: u64, minor: u64, micro: u64) -> bool {
        self.comparators
            .iter()
            .all(|c| c.matches([major, minor, micro]))
    }

    /// The requirement as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl fmt::Display for VersionReq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl std::str::FromStr for VersionReq {
    type Err = VersionReqError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VersionReq::parse(s)
    }
}
