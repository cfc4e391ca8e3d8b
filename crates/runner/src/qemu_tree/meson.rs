//! A reader for the few variables of a QEMU `tests/functional/meson.build` that say
//! which tests there are: plain assignments of a list of strings
//! (`tests_x86_64_system_quick = ['migration', ...]`, also `+=`) and of a dictionary
//! of string keys to whole numbers (`test_timeouts = {'acpi_bits' : 420, ...}`).
//!
//! It is not a meson interpreter. Assignments are read wherever they are (inside an
//! `if` block too, as if the condition held); everything else in the file is passed
//! over. A wanted variable whose value is anything but such a literal (a variable, a
//! function call, a concatenation) is not read, and a warning says so: the caller
//! carries on with what it could read.

use indexmap::IndexMap;

/// The variables read from one `meson.build`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MesonVars {
    /// Lists of strings, by variable name, in file order.
    pub lists: IndexMap<String, Vec<String>>,
    /// Dictionaries of string keys to whole numbers, by variable name.
    pub dicts: IndexMap<String, IndexMap<String, u64>>,
    /// `LINE: what could not be read`.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Str(String),
    Int(u64),
    Punct(char),
    /// `+=`
    Append,
    /// Anything else (operators, f-strings' prefixes, ...).
    Other,
}

/// Read the assignments of the variables `wanted` accepts from `text`.
pub fn read(text: &str, wanted: impl Fn(&str) -> bool) -> MesonVars {
    let toks = tokenize(text);
    let mut vars = MesonVars::default();
    let mut i = 0;
    while i < toks.len() {
        let (line, tok) = &toks[i];
        let is_assignment = i + 1 < toks.len()
            && matches!(toks[i + 1].1, Tok::Punct('=') | Tok::Append)
            && (i == 0 || !matches!(toks[i - 1].1, Tok::Punct('.')));
        let Tok::Ident(name) = tok else {
            i += 1;
            continue;
        };
        if !is_assignment || !wanted(name) {
            i += 1;
            continue;
        }
        let append = toks[i + 1].1 == Tok::Append;
        let start = i + 2;
        let parsed = match toks.get(start).map(|t| &t.1) {
            Some(Tok::Punct('[')) => list(&toks, start + 1).map(|(v, end)| (Value::List(v), end)),
            Some(Tok::Punct('{')) => dict(&toks, start + 1).map(|(v, end)| (Value::Dict(v), end)),
            _ => None,
        };
        let Some((value, end)) = parsed else {
            vars.warnings.push(format!(
                "{line}: {name} is not a plain list of strings or dictionary of numbers; not read"
            ));
            i = start;
            continue;
        };
        if matches!(toks.get(end).map(|t| &t.1), Some(Tok::Punct('+'))) {
            vars.warnings.push(format!(
                "{line}: {name} is a concatenation; only its first part is read"
            ));
        }
        match value {
            Value::List(v) if append => vars.lists.entry(name.clone()).or_default().extend(v),
            Value::List(v) => {
                vars.lists.insert(name.clone(), v);
            }
            Value::Dict(d) if append => vars.dicts.entry(name.clone()).or_default().extend(d),
            Value::Dict(d) => {
                vars.dicts.insert(name.clone(), d);
            }
        }
        i = end;
    }
    vars
}

enum Value {
    List(Vec<String>),
    Dict(IndexMap<String, u64>),
}

/// `'a', 'b', ]` from `at`: the strings and the index after `]`.
fn list(toks: &[(usize, Tok)], mut at: usize) -> Option<(Vec<String>, usize)> {
    let mut out = Vec::new();
    loop {
        match &toks.get(at)?.1 {
            Tok::Punct(']') => return Some((out, at + 1)),
            Tok::Punct(',') => at += 1,
            Tok::Str(s) => {
                out.push(s.clone());
                at += 1;
            }
            _ => return None,
        }
    }
}

/// `'a' : 1, 'b' : 2 }` from `at`: the entries and the index after `}`.
fn dict(toks: &[(usize, Tok)], mut at: usize) -> Option<(IndexMap<String, u64>, usize)> {
    let mut out = IndexMap::new();
    loop {
        match &toks.get(at)?.1 {
            Tok::Punct('}') => return Some((out, at + 1)),
            Tok::Punct(',') => at += 1,
            Tok::Str(key) => {
                let (Tok::Punct(':'), Tok::Int(n)) = (&toks.get(at + 1)?.1, &toks.get(at + 2)?.1)
                else {
                    return None;
                };
                out.insert(key.clone(), *n);
                at += 3;
            }
            _ => return None,
        }
    }
}

/// Tokens with their 1-based line numbers. Comments are dropped; strings are
/// single-quoted (`'...'` with backslash escapes, or `'''...'''`).
fn tokenize(text: &str) -> Vec<(usize, Tok)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '\'' => {
                let start_line = line;
                let triple = chars[i..].starts_with(&['\'', '\'', '\'']);
                i += if triple { 3 } else { 1 };
                let mut s = String::new();
                while i < chars.len() {
                    if triple && chars[i..].starts_with(&['\'', '\'', '\'']) {
                        i += 3;
                        break;
                    }
                    if !triple && chars[i] == '\'' {
                        i += 1;
                        break;
                    }
                    if !triple && chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    s.push(chars[i]);
                    i += 1;
                }
                out.push((start_line, Tok::Str(s)));
            }
            '+' if chars.get(i + 1) == Some(&'=') => {
                out.push((line, Tok::Append));
                i += 2;
            }
            '=' if chars.get(i + 1) == Some(&'=') => {
                out.push((line, Tok::Other));
                i += 2;
            }
            '[' | ']' | '{' | '}' | '(' | ')' | ',' | ':' | '=' | '+' | '.' => {
                out.push((line, Tok::Punct(c)));
                i += 1;
            }
            c if c.is_ascii_digit() => {
                let start = i;
                while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                out.push((line, word.parse().map_or(Tok::Other, Tok::Int)));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push((line, Tok::Ident(chars[start..i].iter().collect())));
            }
            c if c.is_whitespace() => i += 1,
            _ => {
                out.push((line, Tok::Other));
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(_: &str) -> bool {
        true
    }

    #[test]
    fn lists_and_dictionaries_of_literals_are_read_and_the_rest_passed_over() {
        let text = "\
# Timeouts
test_timeouts = {
  'acpi_bits' : 420,
  'intel_iommu': 300,   # slow
}
if get_option('tcg_interpreter')
  subdir_done()
endif
tests_x86_64_system_quick = [
  'migration',
  'vnc'
]
foreach speed : ['quick', 'thorough']
  test_env.set('QEMU_BUILD_ROOT', meson.project_build_root())
endforeach
";
        let vars = read(text, all);

        assert_eq!(vars.dicts["test_timeouts"]["acpi_bits"], 420);
        assert_eq!(vars.dicts["test_timeouts"]["intel_iommu"], 300);
        assert_eq!(
            vars.lists["tests_x86_64_system_quick"],
            ["migration", "vnc"]
        );
        assert_eq!(vars.lists.len(), 1, "the foreach list is no assignment");
        assert!(vars.warnings.is_empty(), "{:?}", vars.warnings);
    }

    #[test]
    fn appends_extend_and_empty_lists_are_lists() {
        let text = "tests_generic_linuxuser = [\n]\ntests_a = ['x']\ntests_a += ['y',]\n";
        let vars = read(text, all);

        assert_eq!(vars.lists["tests_generic_linuxuser"], Vec::<String>::new());
        assert_eq!(vars.lists["tests_a"], ["x", "y"]);
    }

    #[test]
    fn a_value_that_is_not_a_literal_is_a_warning_naming_its_line() {
        let text = "x = 1\ntests_a = other_list\ntests_b = ['p'] + tests_a\ntests_c = [f(1)]\n";
        let vars = read(text, |n| n.starts_with("tests_"));

        assert!(!vars.lists.contains_key("tests_a"));
        assert_eq!(vars.lists["tests_b"], ["p"]);
        assert!(!vars.lists.contains_key("tests_c"));
        assert_eq!(vars.warnings.len(), 3, "{:?}", vars.warnings);
        assert!(
            vars.warnings[0].starts_with("2: tests_a "),
            "{:?}",
            vars.warnings
        );
        assert!(
            vars.warnings[1].starts_with("3: tests_b "),
            "{:?}",
            vars.warnings
        );
        assert!(
            vars.warnings[2].starts_with("4: tests_c "),
            "{:?}",
            vars.warnings
        );
    }

    #[test]
    fn only_wanted_names_are_read_and_method_calls_are_no_assignments() {
        let text = "other = ['a']\ntest_env.tests_x = ['b']\ntests_y = ['c']\n";
        let vars = read(text, |n| n.starts_with("tests_"));

        assert_eq!(vars.lists.keys().collect::<Vec<_>>(), ["tests_y"]);
    }

    #[test]
    fn qemu_10_0_functional_meson_build_reads_whole() {
        // Shape of QEMU 10.0.2's tests/functional/meson.build, abridged.
        let text = r#"
if get_option('tcg_interpreter')
  subdir_done()
endif
test_timeouts = {
  'aarch64_aspeed' : 600,
  'x86_64_replay' : 480,
}
tests_generic_system = [
  'empty_cpu_model',
  'info_usernet',
  'version',
]
tests_microblaze_system_thorough = [
  'microblaze_replay',
  'microblaze_s3adsp1800'
]
    foreach test : target_tests
      testname = '@0@-@1@'.format(target_base, test)
      test('func-' + testname,
           timeout: test_timeouts.get(test, 90),
           suite: suites)
    endforeach
"#;
        let vars = read(text, |n| n.starts_with("tests_") || n.ends_with("timeouts"));

        assert_eq!(vars.dicts["test_timeouts"].len(), 2);
        assert_eq!(vars.lists["tests_generic_system"].len(), 3);
        assert_eq!(vars.lists["tests_microblaze_system_thorough"].len(), 2);
        assert!(vars.warnings.is_empty(), "{:?}", vars.warnings);
    }
}
