//! Leaf conversions from raw TOML values, with positioned errors.

use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::duration::parse_duration;
use crate::load::{Loader, Result};
use crate::pattern::compile_regex;
use crate::raw::{StringsOrVar, S};
use crate::template::{check_value, Templ, Template};
use crate::Value;

/// What an exit code must be: an exit status is a byte, so a larger number
/// (`code = 4294967296`) would compare equal to its low byte.
pub(crate) const EXIT_CODE: &str = "an exit code from 0 to 255";

impl Loader<'_> {
    pub(crate) fn tmpl(&self, value: &S<String>) -> Result<Template> {
        self.tmpl_str(value.get_ref(), value.span().start)
    }

    /// A template written at byte offset `at`, with its position.
    fn tmpl_str(&self, text: &str, at: usize) -> Result<Template> {
        let (line, column) = self.src.line_col(at);
        Template::parse(text)
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

    /// The one rule for typed values (docs/test-format.md, "Substitution"):
    /// a key taking a number, boolean or duration also takes a string holding
    /// `${...}`, rendered with the case's variants and `-p` parameters and then
    /// read as `ty`. What it gives is checked like a literal, with the same
    /// messages at the same place.
    ///
    /// Returns the value to check: the literal as written, or the rendered one;
    /// `None` while loading the file as written (no case yet): the template is
    /// recorded in [`TestFile::typed`](crate::TestFile::typed) and the key
    /// keeps its default until [`TestFile::cases`](crate::TestFile::cases).
    pub(crate) fn typed(
        &self,
        value: &S<toml::Value>,
        ty: Ty,
        key: &str,
    ) -> Result<Option<toml::Value>> {
        let toml::Value::String(text) = value.get_ref() else {
            return Ok(Some(value.get_ref().clone()));
        };
        self.typed_str(text, value.span().start, ty, key)
    }

    /// A string key checked at load (`on`, `channel`, `sha256`): its text as
    /// written, or rendered per case like a typed value (see [`Loader::typed`]);
    /// `None` while loading the file as written.
    pub(crate) fn checked_text(&self, value: &S<String>, key: &str) -> Result<Option<String>> {
        Ok(
            match self.typed_str(value.get_ref(), value.span().start, Ty::Text, key)? {
                Some(toml::Value::String(text)) => Some(text),
                _ => None,
            },
        )
    }

    /// A key naming one of `names` (`channel`, `display`), checked like
    /// [`Loader::checked_text`]: `None` when not written, or while loading the
    /// file as written when it holds `${...}`; with the position of its value.
    pub(crate) fn choice(
        &self,
        value: Option<&S<String>>,
        key: &str,
        names: &[&str],
    ) -> Result<Option<(String, usize)>> {
        let Some(value) = value else {
            return Ok(None);
        };
        let at = value.span().start;
        match self.checked_text(value, key)? {
            Some(text) if !names.contains(&text.as_str()) => self.err(
                at,
                format!("unknown {key} {text:?}: expected one of {}", list(names)),
            ),
            text => Ok(text.map(|text| (text, at))),
        }
    }

    /// A free-text key (`tags`, `description`): rendered per case like a typed
    /// value (see [`Loader::typed`]), so `tags = ["arch:${arch}"]` filters and
    /// places each case by its own value; as written while loading the file as
    /// written.
    pub(crate) fn text_per_case(&self, value: &S<String>, key: &str) -> Result<String> {
        Ok(self
            .checked_text(value, key)?
            .unwrap_or_else(|| value.get_ref().clone()))
    }

    /// [`Loader::text_per_case`] for each item of a list.
    pub(crate) fn texts_per_case(&self, items: &[S<String>], key: &str) -> Result<Vec<String>> {
        items
            .iter()
            .map(|item| self.text_per_case(item, key))
            .collect()
    }

    /// A list of templates (`args`, `console_fail`), or one string that is
    /// exactly one `${name}` standing for the whole list ([`Loader::whole_list`]).
    pub(crate) fn tmpl_list_or_var(
        &self,
        value: &S<StringsOrVar>,
        key: &str,
    ) -> Result<Vec<Template>> {
        match value.get_ref() {
            StringsOrVar::List(items) => self.tmpl_list(items),
            StringsOrVar::One(text) => Ok(self
                .whole_list(text, value.span().start, key)?
                .iter()
                .map(|item| Template::from_text(item))
                .collect()),
        }
    }

    /// A list of free texts rendered per case (`tags`), or one string that is
    /// exactly one `${name}` standing for the whole list.
    pub(crate) fn texts_or_var(&self, value: &S<StringsOrVar>, key: &str) -> Result<Vec<String>> {
        match value.get_ref() {
            StringsOrVar::List(items) => self.texts_per_case(items, key),
            StringsOrVar::One(text) => self.whole_list(text, value.span().start, key),
        }
    }

    /// A string written where a list goes: exactly one `${name}`, a variant or
    /// parameter whose value is an array, rendered per case like a typed value
    /// (see [`Loader::typed`]); each item is taken as text. Empty while loading
    /// the file as written.
    fn whole_list(&self, text: &str, at: usize, key: &str) -> Result<Vec<String>> {
        let template = self.tmpl_str(text, at)?;
        let Some(name) = template.single_var() else {
            return self.err(
                at,
                format!(
                    "`{key}` must be an array, or a string that is exactly one `${{name}}` \
                     (a variant or parameter whose value is an array), found {text:?}"
                ),
            );
        };
        self.typed_templates.borrow_mut().push(template.clone());
        let Some(vars) = self.vars else {
            return Ok(Vec::new());
        };
        let not_a_list = |found: String| {
            self.src.error_at(
                at,
                format!("`{key}` is {text:?}, which gives {found} after substitution: expected an array of strings"),
            )
        };
        match vars.get(name) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(_) | Value::Bool(_) => Ok(item.to_string()),
                    other => Err(not_a_list(format!("an array holding {other}"))),
                })
                .collect(),
            Some(other) => Err(not_a_list(other.to_string())),
            None => self.err(at, format!("in `{key}`: unknown variable `${{{name}}}`")),
        }
    }

    fn typed_str(&self, text: &str, at: usize, ty: Ty, key: &str) -> Result<Option<toml::Value>> {
        let template = self.tmpl_str(text, at)?;
        if let Some(literal) = template.literal() {
            return Ok(Some(toml::Value::String(literal.to_owned())));
        }
        self.typed_templates.borrow_mut().push(template.clone());
        let Some(vars) = self.vars else {
            return Ok(None);
        };
        let rendered = template
            .render(vars)
            .or_else(|e| self.err(at, format!("in `{key}`: {e}")))?;
        let read = match ty {
            Ty::Integer => rendered.trim().parse().ok().map(toml::Value::Integer),
            Ty::Boolean => match rendered.trim() {
                "true" => Some(toml::Value::Boolean(true)),
                "false" => Some(toml::Value::Boolean(false)),
                _ => None,
            },
            Ty::Duration => parse_duration(&rendered)
                .ok()
                .map(|_| toml::Value::String(rendered.clone())),
            Ty::Text => Some(toml::Value::String(rendered.clone())),
        };
        match read {
            Some(read) => Ok(Some(read)),
            None => self.err(
                at,
                format!(
                    "`{key}` is {text:?}, which gives {rendered:?} after substitution: expected {}",
                    ty.expected()
                ),
            ),
        }
    }

    /// A typed value written literally, or as a string with `${...}`: rendered
    /// per case (see [`Loader::typed`]); a single `${name}` that is not a
    /// variant or parameter (a value saved by an earlier step) stays a
    /// reference, rendered when the step runs.
    pub(crate) fn templ<T: DeserializeOwned>(
        &self,
        value: &S<toml::Value>,
        ty: Ty,
        key: &str,
        expected: &str,
    ) -> Result<Option<Templ<T>>> {
        let at = value.span().start;
        if let toml::Value::String(text) = value.get_ref() {
            let template = self.tmpl_str(text, at)?;
            if let Some(name) = template.single_var() {
                if self.vars.is_none_or(|vars| vars.get(name).is_none()) {
                    self.typed_templates.borrow_mut().push(template.clone());
                    return Ok(Some(Templ::Var(name.to_owned())));
                }
            }
        }
        let Some(read) = self.typed(value, ty, key)? else {
            return Ok(None);
        };
        let mismatch = |found: &str| {
            self.err(
                at,
                format!("expected {expected} or a string holding `${{name}}`, found {found}"),
            )
        };
        T::deserialize(read.clone())
            .map(|v| Some(Templ::Lit(v)))
            .or_else(|_| mismatch(&describe_value(&read)))
    }

    pub(crate) fn opt_templ<T: DeserializeOwned>(
        &self,
        value: Option<&S<toml::Value>>,
        ty: Ty,
        key: &str,
        expected: &str,
    ) -> Result<Option<Templ<T>>> {
        match value {
            Some(value) => self.templ(value, ty, key, expected),
            None => Ok(None),
        }
    }

    /// A boolean key: `true`, `false`, or a string holding `${...}` (see
    /// [`Loader::typed`]); `None` until the case is known.
    pub(crate) fn boolean(&self, value: &S<toml::Value>, key: &str) -> Result<Option<bool>> {
        match self.typed(value, Ty::Boolean, key)? {
            Some(toml::Value::Boolean(b)) => Ok(Some(b)),
            Some(other) => self.err(
                value.span().start,
                format!(
                    "`{key}` must be `true` or `false`, found {}",
                    describe_value(&other)
                ),
            ),
            None => Ok(None),
        }
    }

    /// An optional boolean key, `default` when absent or not known yet.
    pub(crate) fn opt_boolean(
        &self,
        value: Option<&S<toml::Value>>,
        key: &str,
        default: bool,
    ) -> Result<bool> {
        Ok(match value {
            Some(value) => self.boolean(value, key)?.unwrap_or(default),
            None => default,
        })
    }

    /// A count (0 or more) that fits in 32 bits, written as an integer (or a
    /// string holding `${...}`); `None` until the case is known.
    pub(crate) fn count(&self, value: &S<toml::Value>, key: &str) -> Result<Option<u32>> {
        let Some(read) = self.typed(value, Ty::Integer, key)? else {
            return Ok(None);
        };
        let key = format!("`{key}`");
        match &read {
            toml::Value::Integer(n) => u32::try_from(*n).map(Some).or_else(|_| {
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

    /// A typed count of at least 1 (`cpus`), see [`Loader::templ`].
    pub(crate) fn positive(&self, value: &S<toml::Value>, key: &str) -> Result<Option<Templ<u64>>> {
        const POSITIVE: &str = "a positive integer";
        let templ = self.templ::<u64>(value, Ty::Integer, key, POSITIVE)?;
        if templ.as_ref().and_then(Templ::lit) == Some(&0) {
            return self.err(value.span().start, format!("expected {POSITIVE}, found 0"));
        }
        Ok(templ)
    }

    /// A duration string (or a string holding `${...}`, see [`Loader::typed`]);
    /// `None` until the case is known.
    pub(crate) fn duration(&self, value: &S<toml::Value>, key: &str) -> Result<Option<Duration>> {
        let at = value.span().start;
        match self.typed(value, Ty::Duration, key)? {
            Some(toml::Value::String(text)) => parse_duration(&text)
                .map(Some)
                .or_else(|e| self.err(at, e.to_string())),
            Some(other) => self.err(
                at,
                format!(
                    "expected a duration string such as \"30s\", \"2m\" or \"1500ms\", found {}",
                    describe_value(&other)
                ),
            ),
            None => Ok(None),
        }
    }

    /// An optional duration key (`None` when absent or not known yet).
    pub(crate) fn opt_duration(
        &self,
        value: Option<&S<toml::Value>>,
        key: &str,
    ) -> Result<Option<Duration>> {
        match value {
            Some(value) => self.duration(value, key),
            None => Ok(None),
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

/// What a typed key reads a rendered string as.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ty {
    /// An integer (`retries`, `cpus`, exit codes).
    Integer,
    /// `true` or `false` (`exclusive`, `console`, `launch`, `poll`, ...).
    Boolean,
    /// A duration string (`timeout`).
    Duration,
    /// Text checked at load (`arch`, `accel`, `on`, `channel`, `display`, `sha256`).
    Text,
}

impl Ty {
    fn expected(self) -> &'static str {
        match self {
            Ty::Integer => "an integer",
            Ty::Boolean => "`true` or `false`",
            Ty::Duration => "a duration such as \"30s\", \"2m\" or \"1500ms\"",
            Ty::Text => "text",
        }
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

impl Loader<'_> {
    /// `covers = ["hw/net/virtio-net.c", "hw/net/*"]`: paths relative to the
    /// repository's top, written as they are (no `${...}`, not absolute, no `..`).
    pub(crate) fn covers(&self, raw: Option<&S<Vec<S<String>>>>) -> Result<Vec<String>> {
        let Some(list) = raw else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for item in list.get_ref() {
            let text = item.get_ref().trim();
            let bad = if text.is_empty() {
                Some("is empty")
            } else if text.starts_with('/') {
                Some("is absolute: `covers` paths are relative to the repository's top")
            } else if text.split('/').any(|part| part == "..") {
                Some("has `..`: `covers` paths are relative to the repository's top")
            } else if text.contains("${") {
                Some("holds `${...}`: `covers` is written as it is")
            } else {
                None
            };
            if let Some(why) = bad {
                return self.err(item.span().start, format!("`covers` entry {text:?} {why}"));
            }
            out.push(text.to_string());
        }
        Ok(out)
    }
}
