//! `${name}` substitution: text templates, typed values and JSON value trees.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use indexmap::IndexMap;
use serde::de::DeserializeOwned;

use crate::Value;

/// Variable lookup at run time: variants, `-p` parameters, built-ins (`tmp`,
/// `dir`, `guest_kernel`, `guest_initrd`, `asset:<name>`) and saved values.
pub trait Vars {
    /// The value of `name`, or `None` when it is not defined.
    fn get(&self, name: &str) -> Option<Value>;
}

impl Vars for IndexMap<String, Value> {
    fn get(&self, name: &str) -> Option<Value> {
        IndexMap::get(self, name).cloned()
    }
}

impl<S: std::hash::BuildHasher> Vars for HashMap<String, Value, S> {
    fn get(&self, name: &str) -> Option<Value> {
        HashMap::get(self, name).cloned()
    }
}

impl Vars for BTreeMap<String, Value> {
    fn get(&self, name: &str) -> Option<Value> {
        BTreeMap::get(self, name).cloned()
    }
}

/// A malformed template: `${` without `}`, or a bad variable name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} in {input:?}")]
pub struct TemplateError {
    input: String,
    message: String,
}

/// A template could not be rendered: an unknown variable, or a value of the
/// wrong type for the place that uses it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RenderError {
    variable: String,
    message: String,
}

impl RenderError {
    fn unknown(name: &str) -> Self {
        RenderError {
            variable: name.to_owned(),
            message: format!("unknown variable `${{{name}}}`"),
        }
    }

    /// A value that does not fit where `variable` put it.
    pub(crate) fn invalid(variable: &str, message: String) -> Self {
        RenderError {
            variable: variable.to_owned(),
            message,
        }
    }

    /// The variable at fault (empty for a malformed template found at run time).
    pub fn variable(&self) -> &str {
        &self.variable
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(String),
}

/// A text value that may contain `${name}` references; `$${` is a literal `${`.
///
/// Parsed when the file is loaded; [`Display`](fmt::Display) shows the source.
///
/// # Examples
///
/// ```
/// use indexmap::IndexMap;
/// use kennel_spec::Template;
///
/// let t = Template::parse("-smp ${cpus} costs $${money}").unwrap();
/// let mut vars = IndexMap::new();
/// vars.insert("cpus".to_owned(), serde_json::json!(4));
/// assert_eq!(t.render(&vars).unwrap(), "-smp 4 costs ${money}");
/// assert_eq!(t.vars().collect::<Vec<_>>(), ["cpus"]);
/// ```
#[derive(Debug, Clone)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
    /// 1-based line and column in the test file, when loaded from one.
    at: Option<(usize, usize)>,
}

/// Two templates are equal when they are written the same, wherever they are.
impl PartialEq for Template {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Template {}

/// Whether `name` is a valid variable name: letters, digits, `_`, `-`, `.`,
/// and `:` (for `asset:<name>`).
pub fn is_var_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
}

impl Template {
    /// Parse a template.
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let err = |message: String| TemplateError {
            input: source.to_owned(),
            message,
        };
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = source;
        while let Some(dollar) = rest.find('$') {
            text.push_str(&rest[..dollar]);
            let after = &rest[dollar..];
            if let Some(tail) = after.strip_prefix("$${") {
                text.push_str("${");
                rest = tail;
            } else if let Some(tail) = after.strip_prefix("${") {
                let end = tail.find('}').ok_or_else(|| {
                    err("`${` without a closing `}` (write `$${` for a literal `${`)".to_owned())
                })?;
                let name = &tail[..end];
                if !is_var_name(name) {
                    return Err(err(format!(
                        "bad variable name `{name}` in `${{{name}}}` (expected letters, digits, `_`, `-`, `.`, `:`)"
                    )));
                }
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                parts.push(Part::Var(name.to_owned()));
                rest = &tail[end + 1..];
            } else {
                text.push('$');
                rest = &after[1..];
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Template {
            source: source.to_owned(),
            parts,
            at: None,
        })
    }

    /// A template for plain text with no references (`${` in `text` is escaped).
    pub fn from_text(text: &str) -> Template {
        Template {
            source: text.replace("${", "$${"),
            parts: if text.is_empty() {
                Vec::new()
            } else {
                vec![Part::Text(text.to_owned())]
            },
            at: None,
        }
    }

    /// Where the template is written: 1-based line and column of its string
    /// in the test file (`None` when it was not loaded from a file).
    pub fn position(&self) -> Option<(usize, usize)> {
        self.at
    }

    pub(crate) fn at(mut self, line: usize, column: usize) -> Template {
        self.at = Some((line, column));
        self
    }

    /// The source, as written in the file.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The text, when the template has no references (`$${` already turned into `${`).
    pub fn literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Text(text)] => Some(text),
            _ => None,
        }
    }

    /// The variable name, when the template is exactly one `${name}`.
    pub fn single_var(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Var(name)] => Some(name),
            _ => None,
        }
    }

    /// The names the template refers to, in order (with repeats).
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Var(name) => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }

    /// The text with every reference replaced by its value's text: strings
    /// as-is, numbers and booleans via `to_string`, arrays and objects as
    /// compact JSON.
    pub fn render(&self, vars: &dyn Vars) -> Result<String, RenderError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Var(name) => {
                    let value = vars.get(name).ok_or_else(|| RenderError::unknown(name))?;
                    out.push_str(&value_text(&value));
                }
            }
        }
        Ok(out)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl std::str::FromStr for Template {
    type Err = TemplateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Template::parse(s)
    }
}

/// The text of a value: strings as-is, `null` as nothing, other values as
/// compact JSON (`4`, `true`, `[1,2]`).
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A typed value written literally (`cpus = 4`) or as a string that is exactly
/// one `${name}` (`cpus = "${cpus}"`), which takes the variable's value.
///
/// In a case's file ([`TestFile::cases`](crate::TestFile::cases)) a reference
/// to a variant or `-p` parameter is already a `Lit`; `Var` remains for a
/// value known only when the step runs (a value saved by an earlier step).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Templ<T> {
    /// Written literally.
    Lit(T),
    /// A reference to a variable, by name.
    Var(String),
}

impl<T: DeserializeOwned + Clone> Templ<T> {
    /// The value: the literal, or the variable converted to `T`. The error names
    /// the variable and the expected type.
    pub fn render(&self, vars: &dyn Vars) -> Result<T, RenderError> {
        match self {
            Templ::Lit(value) => Ok(value.clone()),
            Templ::Var(name) => {
                let value = vars.get(name).ok_or_else(|| RenderError::unknown(name))?;
                serde_json::from_value(value.clone()).map_err(|e| RenderError {
                    variable: name.clone(),
                    message: format!(
                        "variable `${{{name}}}` is {value}, which does not fit here: {e}"
                    ),
                })
            }
        }
    }
}

impl<T> Templ<T> {
    /// The variable name, for `Var`.
    pub fn var(&self) -> Option<&str> {
        match self {
            Templ::Lit(_) => None,
            Templ::Var(name) => Some(name),
        }
    }

    /// The literal, for `Lit`.
    pub fn lit(&self) -> Option<&T> {
        match self {
            Templ::Lit(value) => Some(value),
            Templ::Var(_) => None,
        }
    }
}

impl<T: fmt::Display> fmt::Display for Templ<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Templ::Lit(value) => value.fmt(f),
            Templ::Var(name) => write!(f, "${{{name}}}"),
        }
    }
}

/// Render a JSON value tree: a string that is exactly one `${name}` takes the
/// variable's value with its type; other strings are text templates. Object
/// keys are left as written.
///
/// # Examples
///
/// ```
/// use indexmap::IndexMap;
/// use kennel_spec::render_value;
/// use serde_json::json;
///
/// let mut vars = IndexMap::new();
/// vars.insert("n".to_owned(), json!(4));
/// let value = json!({ "cpus": "${n}", "id": "cpu${n}" });
/// assert_eq!(render_value(&value, &vars).unwrap(), json!({ "cpus": 4, "id": "cpu4" }));
/// ```
pub fn render_value(value: &Value, vars: &dyn Vars) -> Result<Value, RenderError> {
    Ok(match value {
        Value::String(s) => {
            let template = Template::parse(s).map_err(|e| RenderError {
                variable: String::new(),
                message: e.to_string(),
            })?;
            match template.single_var() {
                Some(name) => vars.get(name).ok_or_else(|| RenderError::unknown(name))?,
                None => Value::String(template.render(vars)?),
            }
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| render_value(item, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render_value(v, vars)?)))
                .collect::<Result<_, RenderError>>()?,
        ),
        other => other.clone(),
    })
}

/// Check every string in a value tree parses as a template.
pub(crate) fn check_value(value: &Value) -> Result<(), TemplateError> {
    match value {
        Value::String(s) => Template::parse(s).map(drop),
        Value::Array(items) => items.iter().try_for_each(check_value),
        Value::Object(map) => map.values().try_for_each(check_value),
        _ => Ok(()),
    }
}

/// Every variable referenced by the strings of a value tree.
pub fn value_vars(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_value_vars(value, &mut out);
    out
}

fn collect_value_vars(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            if let Ok(t) = Template::parse(s) {
                out.extend(t.vars().map(str::to_owned));
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_value_vars(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_value_vars(v, out)),
        _ => {}
    }
}
