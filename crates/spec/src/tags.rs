//! Tag filters (`-t/--tags`), in Avocado syntax, and the tags that fill in a
//! machine's defaults.

use crate::load::MAIN_MACHINE;
use crate::model::MachineSpec;
use crate::template::{Templ, Template};

/// A tag filter expression that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad tag filter {input:?}: {reason}")]
pub struct TagFilterError {
    input: String,
    reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    /// The tag, e.g. `quick` or `arch:x86_64`.
    tag: String,
    /// Whether the tag must be absent.
    negated: bool,
}

/// Which tests to run by tag, from the repeated `-t` values (Avocado syntax).
///
/// One value is comma-separated terms that must all hold; repeated values are
/// OR'ed. A term `x` requires tag `x`; `-x` requires `x` absent; `key:value`
/// requires that tag; `key:-value` (or `-key:value`) requires the test not to
/// be tagged `key:value`. No value at all matches every test.
///
/// # Examples
///
/// ```
/// use kennel_spec::TagFilter;
/// let filter = TagFilter::parse(&["quick,-slow".to_owned(), "arch:x86_64".to_owned()]).unwrap();
/// let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
/// assert!(filter.matches(&tags(&["quick"])));
/// assert!(!filter.matches(&tags(&["quick", "slow"])));
/// assert!(filter.matches(&tags(&["slow", "arch:x86_64"])));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagFilter {
    /// OR of ANDs.
    alternatives: Vec<Vec<Term>>,
}

impl TagFilter {
    /// Build a filter from the `-t` values, in order.
    pub fn parse(exprs: &[String]) -> Result<TagFilter, TagFilterError> {
        let alternatives = exprs
            .iter()
            .map(|expr| {
                expr.split(',')
                    .map(|term| parse_term(expr, term.trim()))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TagFilter { alternatives })
    }

    /// Whether no `-t` was given (everything matches).
    pub fn is_empty(&self) -> bool {
        self.alternatives.is_empty()
    }

    /// Whether a test with these tags is selected.
    pub fn matches(&self, tags: &[String]) -> bool {
        self.is_empty()
            || self.alternatives.iter().any(|terms| {
                terms
                    .iter()
                    .all(|term| tags.contains(&term.tag) != term.negated)
            })
    }
}

fn parse_term(expr: &str, term: &str) -> Result<Term, TagFilterError> {
    let (negated, tag) = match term.strip_prefix('-') {
        Some(rest) => (true, rest.to_owned()),
        None => match term.split_once(":-") {
            Some((key, value)) => (true, format!("{key}:{value}")),
            None => (false, term.to_owned()),
        },
    };
    if tag.is_empty() || tag.starts_with([':', '-']) || tag.ends_with(':') {
        return Err(TagFilterError {
            input: expr.to_owned(),
            reason: format!(
                "bad term `{term}` (expected `tag`, `-tag`, `key:value` or `key:-value`)"
            ),
        });
    }
    Ok(Term { tag, negated })
}

/// Tags `arch:<a>`, `machine:<m>`, `accel:<x>` fill in the main machine (the
/// one named `main`, or the only one) where it sets nothing. The first such
/// tag wins.
pub(crate) fn apply_tag_defaults(tags: &[String], machines: &mut [MachineSpec]) {
    let main = match machines {
        [only] => Some(only),
        many => many.iter_mut().find(|m| m.name == MAIN_MACHINE),
    };
    let Some(main) = main else { return };
    let tag = |key: &str| {
        tags.iter()
            .find_map(|t| t.strip_prefix(key)?.strip_prefix(':'))
            .filter(|value| !value.is_empty())
    };
    if main.arch.is_none() {
        main.arch = tag("arch").map(|a| Templ::Lit(a.to_owned()));
    }
    if main.machine_type.is_none() {
        main.machine_type = tag("machine").map(Template::from_text);
    }
    if main.accel.is_none() {
        main.accel = tag("accel").map(|a| Templ::Lit(a.to_owned()));
    }
}
