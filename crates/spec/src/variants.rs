//! Variants and `-p` parameters: one [`TestCase`] per combination.

use std::sync::Arc;

use indexmap::IndexMap;

use crate::convert::to_json;
use crate::error::SpecError;
use crate::model::TestFile;
use crate::template::{is_var_name, value_text};
use crate::Value;

/// One runnable test: a file with one combination of its variants.
#[derive(Debug, Clone, PartialEq)]
pub struct TestCase {
    /// The file.
    pub file: Arc<TestFile>,
    /// `<name>`, or `<name> [machine=pc,cpus=1]` for a variant.
    pub name: String,
    /// This combination: variant name to value, in file order.
    pub variant: IndexMap<String, Value>,
    /// Every parameter: the variant, then the `-p` overrides.
    pub params: IndexMap<String, Value>,
}

/// Why case `index` of a test file could not be loaded ([`load_case`]).
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// The file does not load.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The file is not a kennel test.
    #[error("{}: not a test", path.display())]
    NotATest {
        /// The file.
        path: std::path::PathBuf,
    },
    /// The file has fewer cases (its variants changed since it was planned).
    #[error("{}: no case {index}", path.display())]
    NoCase {
        /// The file.
        path: std::path::PathBuf,
        /// The case asked for.
        index: usize,
    },
}

/// Load case `index` of the test file at `path` under the `-p` parameters
/// `overrides`: what the test process runs, and `kennel list` checks.
pub fn load_case(
    path: &std::path::Path,
    index: usize,
    overrides: &IndexMap<String, Value>,
) -> Result<TestCase, CaseError> {
    let file = crate::load_file(path)?.ok_or_else(|| CaseError::NotATest {
        path: path.to_path_buf(),
    })?;
    Arc::new(file)
        .cases(overrides)?
        .into_iter()
        .nth(index)
        .ok_or_else(|| CaseError::NoCase {
            path: path.to_path_buf(),
            index,
        })
}

impl TestFile {
    /// The cases to run: one per combination of the variants (cartesian
    /// product, the first variant varying slowest), or one case with the
    /// plain name when there are no variants.
    ///
    /// `overrides` are the `-p` parameters, added to every case. A `-p` key
    /// that is also a variant name collapses that axis to the given value:
    /// the case names still show it (`[machine=pc,cpus=2]` for `-p cpus=2`),
    /// so that every run names the values it used.
    ///
    /// Each case's `file` has its typed values written with `${...}`
    /// rendered and checked (see [`TestFile::typed`]); one that does not read
    /// as its type, or breaks a rule a literal would (`cpus = 0`, an exit
    /// code beyond 255), is an error at its key.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{path::Path, sync::Arc};
    /// use indexmap::IndexMap;
    ///
    /// let text = "[variants]\nmachine = [\"pc\", \"q35\"]\ncpus = [1, 4]\n\n[machine]\ntype = \"${machine}\"\n";
    /// let test = Arc::new(kennel_spec::load_str(Path::new("boot.toml"), text).unwrap().unwrap());
    /// let names: Vec<_> = test.cases(&IndexMap::new()).unwrap().into_iter().map(|c| c.name).collect();
    /// assert_eq!(names, ["boot [machine=pc,cpus=1]", "boot [machine=pc,cpus=4]",
    ///                    "boot [machine=q35,cpus=1]", "boot [machine=q35,cpus=4]"]);
    /// ```
    pub fn cases(
        self: &Arc<Self>,
        overrides: &IndexMap<String, Value>,
    ) -> Result<Vec<TestCase>, SpecError> {
        let axes: Vec<(&String, Vec<&Value>)> = self
            .variants
            .iter()
            .map(|(name, values)| match overrides.get(name) {
                Some(value) => (name, vec![value]),
                None => (name, values.iter().collect()),
            })
            .collect();
        let total: usize = axes.iter().map(|(_, values)| values.len()).product();
        (0..total)
            .map(|mut index| {
                let mut picks = vec![0; axes.len()];
                for (pick, (_, values)) in picks.iter_mut().zip(&axes).rev() {
                    *pick = index % values.len();
                    index /= values.len();
                }
                let variant: IndexMap<String, Value> = axes
                    .iter()
                    .zip(picks)
                    .map(|((name, values), pick)| ((*name).clone(), values[pick].clone()))
                    .collect();
                let mut params = variant.clone();
                params.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
                Ok(TestCase {
                    file: self.resolve(&params)?,
                    name: case_name(&self.name, &variant, &params),
                    variant,
                    params,
                })
            })
            .collect()
    }
}

fn case_name(
    name: &str,
    variant: &IndexMap<String, Value>,
    params: &IndexMap<String, Value>,
) -> String {
    // `${...}` in the name takes the case's parameters (the contract's "any string of the file").
    let rendered = crate::template::Template::parse(name)
        .ok()
        .and_then(|t| t.render(params).ok());
    let name = rendered.as_deref().unwrap_or(name);
    if variant.is_empty() {
        return name.to_owned();
    }
    let values: Vec<String> = variant
        .iter()
        .map(|(key, value)| format!("{key}={}", value_text(value)))
        .collect();
    format!("{name} [{}]", values.join(","))
}

/// A `-p key=value` that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad parameter {input:?}: {reason}")]
pub struct ParamError {
    input: String,
    reason: String,
}

/// Parse `-p key=value`. The value is a TOML value when it parses as one (`4`
/// is an integer, `true` a boolean, `"x"` the string `x`, `[1, 2]` an array),
/// else the text as written (`pc`, `/tmp/x`).
///
/// # Examples
///
/// ```
/// use serde_json::json;
/// use kennel_spec::parse_param;
/// assert_eq!(parse_param("cpus=4").unwrap(), ("cpus".to_owned(), json!(4)));
/// assert_eq!(parse_param("machine=q35").unwrap(), ("machine".to_owned(), json!("q35")));
/// assert_eq!(parse_param("s=\"4\"").unwrap(), ("s".to_owned(), json!("4")));
/// ```
pub fn parse_param(s: &str) -> Result<(String, Value), ParamError> {
    let err = |reason: &str| ParamError {
        input: s.to_owned(),
        reason: reason.to_owned(),
    };
    let (key, text) = s.split_once('=').ok_or_else(|| err("expected KEY=VALUE"))?;
    let key = key.trim();
    if !is_var_name(key) || key.contains(':') {
        return Err(err(
            "the key must be letters, digits, `_`, `-`, `.` (expected KEY=VALUE)",
        ));
    }
    let value = match text.trim().parse::<toml::Value>() {
        Ok(toml::Value::Float(f)) if !f.is_finite() => Value::String(text.to_owned()),
        Ok(toml::Value::Datetime(_)) | Err(_) => Value::String(text.to_owned()),
        Ok(value) => to_json(&value),
    };
    Ok((key.to_owned(), value))
}
