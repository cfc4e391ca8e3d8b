/// A file-name-safe, lower-case form of a test name, for log folders:
/// `set-numa-node-is-refused` (`test` when nothing is left).
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
            dash = false;
        } else if !dash && !out.is_empty() {
            out.push('-');
            dash = true;
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out.truncate(80);
    if out.is_empty() {
        out.push_str("test");
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_become_slugs() {
        assert_eq!(
            super::slug("set-numa-node is refused [machine=pc,cpus=1]"),
            "set-numa-node-is-refused-machine-pc-cpus-1"
        );
        assert_eq!(super::slug("<>"), "test");
    }
}
