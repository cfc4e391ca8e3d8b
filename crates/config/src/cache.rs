//! The one rule for kennel's cache directory.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::env::{non_empty, CACHE_DIR};

/// kennel's cache directory, from this process's environment:
/// `$KENNEL_CACHE_DIR`; else `$XDG_CACHE_HOME/kennel` when `XDG_CACHE_HOME`
/// is an absolute path (the XDG Base Directory rule: a relative value is
/// ignored); else `$HOME/.cache/kennel`. Empty values count as unset. `None`
/// when none of the three is set.
///
/// Every crate that keeps something in the cache (assets, guest images, the
/// image provider's resolutions, the KVM probe, QEMU's capabilities) asks
/// this function.
///
/// # Examples
///
/// ```
/// let dir = kennel_config::cache_dir();
/// assert!(dir.is_none_or(|d| d.is_absolute() || std::env::var_os("KENNEL_CACHE_DIR").is_some()));
/// ```
pub fn cache_dir() -> Option<PathBuf> {
    cache_dir_from(|name| std::env::var_os(name))
}

/// [`cache_dir`] over any source of variables (`var(name)` is the value of
/// `name`, if set).
pub fn cache_dir_from(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    if let Some(dir) = non_empty(CACHE_DIR, &var) {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = non_empty("XDG_CACHE_HOME", &var)
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
    {
        return Some(dir.join("kennel"));
    }
    non_empty("HOME", &var).map(|home| PathBuf::from(home).join(".cache").join("kennel"))
}

#[cfg(test)]
pub(crate) fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| OsString::from(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kennel_cache_dir_wins() {
        let env = vars(&[
            ("KENNEL_CACHE_DIR", "/k"),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/h"),
        ]);
        assert_eq!(cache_dir_from(env), Some(PathBuf::from("/k")));
    }

    #[test]
    fn an_absolute_xdg_cache_home_comes_next() {
        let env = vars(&[
            ("KENNEL_CACHE_DIR", ""),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/h"),
        ]);
        assert_eq!(cache_dir_from(env), Some(PathBuf::from("/x/kennel")));
    }

    /// Issue 11: `machine/src/fsutil.rs` used a relative `XDG_CACHE_HOME`,
    /// the other copies ignored it. The XDG rule is to ignore it.
    #[test]
    fn a_relative_xdg_cache_home_is_ignored() {
        let env = vars(&[("XDG_CACHE_HOME", "rel"), ("HOME", "/h")]);
        assert_eq!(cache_dir_from(env), Some(PathBuf::from("/h/.cache/kennel")));
    }

    #[test]
    fn no_variables_no_directory() {
        assert_eq!(cache_dir_from(vars(&[])), None);
    }
}
