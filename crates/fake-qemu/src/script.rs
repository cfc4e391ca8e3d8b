//! Parsing the `KENNEL_FAKE_QEMU` script.

/// One step of the script; see the crate documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    Exit(i32),
    Stderr(String),
    Console(String),
    Greet,
    Garbage,
    Sleep(u64),
    Hang,
    HangAfter(usize),
    CrashAfter(usize),
    Serve,
}

impl Action {
    /// Whether the sockets must be connected before this action runs.
    pub(crate) fn connects(&self) -> bool {
        !matches!(self, Action::Exit(_) | Action::Stderr(_) | Action::Sleep(_))
    }
}

/// Why a script does not read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ScriptError {
    /// `KENNEL_FAKE_QEMU` is not text.
    #[error("KENNEL_FAKE_QEMU")]
    Var(#[source] std::env::VarError),
    /// An action without its argument (`form`: what it takes).
    #[error("{name} needs an argument: {name}:{form}")]
    NoArgument { name: String, form: &'static str },
    /// An action's argument is not a number.
    #[error("{name}: expected a number, got {text:?}")]
    NotANumber { name: String, text: String },
    /// `exit` without a code.
    #[error("exit needs a code: exit:N, got {0:?}")]
    NoExitCode(String),
    /// No such action.
    #[error("unknown action {0:?}")]
    UnknownAction(String),
}

/// Parse a comma-separated list of actions.
pub(crate) fn parse(script: &str) -> Result<Vec<Action>, ScriptError> {
    split(script)
        .iter()
        .filter(|item| !item.trim().is_empty())
        .map(|item| parse_action(item))
        .collect()
}

fn parse_action(item: &str) -> Result<Action, ScriptError> {
    let (name, argument) = match item.split_once(':') {
        Some((name, argument)) => (name.trim(), Some(argument)),
        None => (item.trim(), None),
    };
    let no_argument = |form| ScriptError::NoArgument {
        name: name.to_owned(),
        form,
    };
    let number = |form: &'static str| -> Result<u64, ScriptError> {
        let text = argument.ok_or_else(|| no_argument(form))?;
        text.trim().parse().map_err(|_| ScriptError::NotANumber {
            name: name.to_owned(),
            text: text.to_owned(),
        })
    };
    let count = |what| number(what).map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    let text = || {
        argument
            .map(str::to_owned)
            .ok_or_else(|| no_argument("TEXT"))
    };
    let action = match name {
        "exit" => Action::Exit(
            argument
                .and_then(|code| code.trim().parse().ok())
                .ok_or_else(|| ScriptError::NoExitCode(item.to_owned()))?,
        ),
        "stderr" => Action::Stderr(text()?),
        "console" => Action::Console(text()?),
        "greet" => Action::Greet,
        "garbage" => Action::Garbage,
        "sleep" => Action::Sleep(number("MS")?),
        "hang" => Action::Hang,
        "hang-after" => Action::HangAfter(count("N")?),
        "crash-after" => Action::CrashAfter(count("N")?),
        "serve" => Action::Serve,
        _ => return Err(ScriptError::UnknownAction(item.to_owned())),
    };
    Ok(action)
}

/// Split at commas, decoding the escapes `\n`, `\r`, `\t`, `\,` and `\\`
/// (any other escaped character stands for itself).
fn split(script: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut chars = script.chars();
    while let Some(c) = chars.next() {
        match c {
            ',' => items.push(std::mem::take(&mut current)),
            '\\' => match chars.next() {
                Some('n') => current.push('\n'),
                Some('r') => current.push('\r'),
                Some('t') => current.push('\t'),
                Some(other) => current.push(other),
                None => current.push('\\'),
            },
            c => current.push(c),
        }
    }
    items.push(current);
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_action() {
        let script = parse("exit:3,stderr:oops,console:login: ,greet,garbage,sleep:10,hang,hang-after:2,crash-after:1,serve");

        assert_eq!(
            script,
            Ok(vec![
                Action::Exit(3),
                Action::Stderr("oops".into()),
                Action::Console("login: ".into()),
                Action::Greet,
                Action::Garbage,
                Action::Sleep(10),
                Action::Hang,
                Action::HangAfter(2),
                Action::CrashAfter(1),
                Action::Serve,
            ])
        );
    }

    #[test]
    fn text_escapes_cover_newlines_and_commas() {
        assert_eq!(
            parse(r"console:a\, b\nc\\d"),
            Ok(vec![Action::Console("a, b\nc\\d".into())])
        );
    }

    #[test]
    fn empty_items_are_skipped() {
        assert_eq!(parse(" greet, ,"), Ok(vec![Action::Greet]));
        assert_eq!(parse(""), Ok(vec![]));
    }

    #[test]
    fn unknown_actions_and_bad_numbers_are_errors() {
        assert!(parse("explode").is_err());
        assert!(parse("exit").is_err());
        assert!(parse("sleep:soon").is_err());
    }
}
