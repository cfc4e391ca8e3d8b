//! Leaf conversions from raw TOML values, with positioned errors.

use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::duration::parse_duration;
use crate::load::{Loader, Result};
use crate::pattern::compile_regex;
use crate::raw::S;
use crate::template::{check_value, Templ, Template};
use crate::Value;

/// What an exit code must be: an exit status is a byte, so a larger number
/// (`code = 4294967296`) would compare equal to its low byte.
pub(crate) const EXIT_CODE: &str = "an exit code from 0 to 255";

impl Loader<'_> {
    pub(crate) fn tmpl(&self, value: &S<String>) -> Result<Template> {
        let at = value.span().start;
        let (line, column) = self.src.line_col(at);
        Template::parse(value.get_ref())
            .map(|t| t.at(line, column))
            .or_else(|e| self.err(at, e.to_string()))
    }

    pub(crate) fn opt_tmpl(&self, value: Option<&S<String>>) -> Result<Option<Template>> {
        value.map(|v| self.tmpl(v)).transpose()
    }

    /// A list of templates; an error points at the item at fault.
    pub(crate) fn tmpl_list(&self, items: &[S<String>]) -> Result<Vec<Template>> {
        items.iter().map(|item| self.tmpl(item)).collect()
    }

    /// A regex template; compiled now when it has no references.
    pub(crate) fn regex(&self, value: &S<String>) -> Result<Template> {
        let template = self.tmpl(value)?;
        if let Some(pattern) = template.literal() {
            compile_regex(pattern)
                .or_else(|e| self.err(value.span().start, format!("bad regex: {e}")))?;
        }
        Ok(template)
    }

    /// A typed value written literally, or as a string that is exactly one `${name}`.
    pub(crate) fn templ<T: DeserializeOwned>(
        &self,
        value: &S<toml::Value>,
        expected: &str,
    ) -> Result<Templ<T>> {
        let at = value.span().start;
        let mismatch = |found: &str| {
            self.err(
                at,
                format!("expected {expected} or a string that is exactly one `${{name}}`, found {found}"),
            )
        };
        match value.get_ref() {
            toml::Value::String(text) => {
                let template = Template::parse(text).or_else(|e| self.err(at, e.to_string()))?;
                if let Some(name) = template.single_var() {
                    return Ok(Templ::Var(name.to_owned()));
                }
                match template.literal() {
                    Some(literal) => T::deserialize(toml::Value::String(literal.to_owned()))
                        .map(Templ::Lit)
                        .or_else(|_| mismatch(&format!("string {text:?}"))),
                    None => mismatch(&format!("string {text:?}")),
                }
            }
            other => T::deserialize(other.clone())
                .map(Templ::Lit)
                .or_else(|_| mismatch(&describe_value(other))),
        }
    }

    pub(crate) fn opt_templ<T: DeserializeOwned>(
        &self,
        value: Option<&S<toml::Value>>,
        expected: &str,
    ) -> Result<Option<Templ<T>>> {
        value.map(|v| self.templ(v, expected)).transpose()
    }

    /// A count (0 or more) that fits in 32 bits, written as an integer.
    pub(crate) fn count(&self, value: &S<toml::Value>, key: &str) -> Result<u32> {
        match value.get_ref() {
            toml::Value::Integer(n) => u32::try_from(*n).or_else(|_| {
                self.err(
                    value.span().start,
                    format!(
                        "{key} is a count: expected an integer from 0 to {}, found {n}",
                        u32::MAX
                    ),
                )
            }),
            other => self.err(
                value.span().start,
                format!(
                    "{key} is a count: expected an integer, found {}",
                    describe_value(other)
                ),
            ),
        }
    }

    /// A typed count of at least 1 (`cpus`), or a string that is exactly one `${name}`.
    pub(crate) fn positive(&self, value: &S<toml::Value>) -> Result<Templ<u64>> {
        const POSITIVE: &str = "a positive integer";
        let templ = self.templ::<u64>(value, POSITIVE)?;
        if templ.lit() == Some(&0) {
            return self.err(value.span().start, format!("expected {POSITIVE}, found 0"));
        }
        Ok(templ)
    }

    pub(crate) fn duration(&self, value: &S<toml::Value>) -> Result<Duration> {
        let at = value.span().start;
        match value.get_ref() {
            toml::Value::String(text) => {
                parse_duration(text).or_else(|e| self.err(at, e.to_string()))
            }
            other => self.err(
                at,
                format!(
                    "expected a duration string such as \"30s\", \"2m\" or \"1500ms\", found {}",
                    describe_value(other)
                ),
            ),
        }
    }

    /// A JSON value whose strings are templates.
    pub(crate) fn value(&self, value: &S<toml::Value>) -> Result<Value> {
        let json = to_json(value.get_ref());
        check_value(&json).or_else(|e| self.err(value.span().start, e.to_string()))?;
        Ok(json)
    }

    /// A table, or a string that is exactly one `${name}` (rendered to the
    /// variable's value with its type).
    pub(crate) fn table_value(&self, value: &S<toml::Value>, key: &str) -> Result<Value> {
        let single_var = match value.get_ref() {
            toml::Value::String(s) => Template::parse(s).is_ok_and(|t| t.single_var().is_some()),
            _ => false,
        };
        if !value.get_ref().is_table() && !single_var {
            return self.err(
                value.span().start,
                format!(
                    "`{key}` must be a table (or a string that is exactly one `${{name}}`), found {}",
                    describe_value(value.get_ref())
                ),
            );
        }
        self.value(value)
    }
}

/// A TOML value as JSON: datetimes become strings, non-finite floats too
/// (JSON has no NaN or infinity).
pub(crate) fn to_json(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map_or_else(|| Value::String(f.to_string()), Value::Number),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        toml::Value::Table(table) => {
            Value::Object(table.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}

pub(crate) fn describe_value(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("string {s:?}"),
        toml::Value::Integer(i) => format!("integer {i}"),
        toml::Value::Float(f) => format!("float {f}"),
        toml::Value::Boolean(b) => format!("boolean {b}"),
        other => other.type_str().to_owned(),
    }
}

/// "`a`, `b`, `c`".
pub(crate) fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
