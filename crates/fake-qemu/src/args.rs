//! The few QEMU arguments the fake understands.

use std::collections::HashMap;
use std::path::PathBuf;

/// The sockets named on the command line.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Sockets {
    /// The chardev behind `-mon ...,mode=control`.
    pub(crate) qmp: Option<PathBuf>,
    /// The chardev behind `-serial chardev:ID`.
    pub(crate) console: Option<PathBuf>,
}

impl Sockets {
    /// Read `-chardev socket,...`, `-mon` and `-serial` from QEMU-style arguments,
    /// ignoring everything else.
    pub(crate) fn from_args(args: impl IntoIterator<Item = String>) -> Sockets {
        let mut paths: HashMap<String, PathBuf> = HashMap::new();
        let mut monitor = None;
        let mut serial = None;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            // QEMU accepts `--opt` as well as `-opt`.
            let option = arg.strip_prefix('-').unwrap_or(&arg);
            let option = option.strip_prefix('-').unwrap_or(option);
            if !matches!(option, "chardev" | "mon" | "serial") {
                continue;
            }
            let Some(value) = args.next() else { break };
            match option {
                "chardev" => {
                    let (id, path) = (property(&value, "id"), property(&value, "path"));
                    if let (Some(id), Some(path)) = (id, path) {
                        paths.insert(id.to_owned(), PathBuf::from(path));
                    }
                }
                "mon" => {
                    if property(&value, "mode").unwrap_or("readline") == "control" {
                        monitor = property(&value, "chardev").map(str::to_owned);
                    }
                }
                _ => serial = value.strip_prefix("chardev:").map(str::to_owned),
            }
        }
        Sockets {
            qmp: monitor.and_then(|id| paths.get(&id).cloned()),
            console: serial.and_then(|id| paths.get(&id).cloned()),
        }
    }
}

/// The value of `key=value` in a comma-separated QEMU option string.
fn property<'a>(options: &'a str, key: &str) -> Option<&'a str> {
    options
        .split(',')
        .find_map(|item| item.strip_prefix(key)?.strip_prefix('='))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sockets(args: &[&str]) -> Sockets {
        Sockets::from_args(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn finds_qmp_and_console_among_other_arguments() {
        let found = sockets(&[
            "-display",
            "none",
            "-vga",
            "none",
            "-chardev",
            "socket,id=mon,path=/run/k/qmp.sock",
            "-mon",
            "chardev=mon,mode=control",
            "-chardev",
            "socket,id=console,path=/run/k/console.sock",
            "-serial",
            "chardev:console",
            "-machine",
            "none",
            "-accel",
            "tcg",
            "-S",
        ]);

        assert_eq!(
            found,
            Sockets {
                qmp: Some("/run/k/qmp.sock".into()),
                console: Some("/run/k/console.sock".into()),
            }
        );
    }

    #[test]
    fn a_readline_monitor_is_not_qmp() {
        let found = sockets(&["-chardev", "socket,id=m,path=/p", "-mon", "chardev=m"]);

        assert_eq!(found, Sockets::default());
    }

    #[test]
    fn no_sockets_without_arguments() {
        assert_eq!(sockets(&[]), Sockets::default());
    }
}
