use std::time::Duration;

use kennel_spec::{compile_regex, parse_duration, TagFilter, VersionReq};

fn filter(exprs: &[&str]) -> TagFilter {
    let exprs: Vec<String> = exprs.iter().map(|s| (*s).to_owned()).collect();
    TagFilter::parse(&exprs).expect("filter")
}

fn tags(tags: &[&str]) -> Vec<String> {
    tags.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn no_tag_filter_matches_everything() {
    assert!(filter(&[]).matches(&tags(&[])));
    assert!(filter(&[]).matches(&tags(&["slow"])));
}

#[test]
fn comma_terms_must_all_hold() {
    let f = filter(&["quick,numa"]);

    assert!(f.matches(&tags(&["quick", "numa", "x"])));
    assert!(!f.matches(&tags(&["quick"])));
}

#[test]
fn repeated_filters_are_alternatives() {
    let f = filter(&["quick", "numa"]);

    assert!(f.matches(&tags(&["numa"])));
    assert!(f.matches(&tags(&["quick"])));
    assert!(!f.matches(&tags(&["slow"])));
}

#[test]
fn minus_requires_the_tag_absent() {
    let f = filter(&["-slow"]);

    assert!(f.matches(&tags(&[])));
    assert!(!f.matches(&tags(&["slow"])));
}

#[test]
fn key_value_requires_that_tag() {
    let f = filter(&["arch:x86_64"]);

    assert!(f.matches(&tags(&["arch:x86_64"])));
    assert!(!f.matches(&tags(&["arch:aarch64"])));
    assert!(!f.matches(&tags(&["x86_64"])));
}

#[test]
fn key_minus_value_passes_without_that_tag() {
    let f = filter(&["quick,arch:-x86_64"]);

    assert!(f.matches(&tags(&["quick"])));
    assert!(f.matches(&tags(&["quick", "arch:aarch64"])));
    assert!(!f.matches(&tags(&["quick", "arch:x86_64"])));
    assert!(!f.matches(&tags(&["arch:aarch64"])));
}

#[test]
fn empty_tag_term_is_refused() {
    let err = TagFilter::parse(&["quick,,numa".to_owned()]).expect_err("empty term");

    assert_eq!(
        err.to_string(),
        "bad tag filter \"quick,,numa\": bad term `` (expected `tag`, `-tag`, `key:value` or `key:-value`)"
    );
    assert!(TagFilter::parse(&["-".to_owned()]).is_err());
}

#[test]
fn version_requirements_compare_like_cargo() {
    let cases: [(&str, (u64, u64, u64), bool); 16] = [
        (">=7.2", (7, 2, 0), true),
        (">=7.2", (7, 1, 9), false),
        (">=7.2", (10, 0, 0), true),
        (">7", (7, 9, 9), false),
        (">7", (8, 0, 0), true),
        ("<8.1.0", (8, 0, 99), true),
        ("<8.1.0", (8, 1, 0), false),
        ("=7.2.0", (7, 2, 0), true),
        ("=7.2.0", (7, 2, 1), false),
        ("7.2", (7, 2, 5), true),
        ("7.2", (7, 3, 0), false),
        ("<=7.2", (7, 2, 9), true),
        ("<=7.2", (7, 3, 0), false),
        (">=7, <9", (8, 2, 0), true),
        (">=7, <9", (9, 0, 0), false),
        ("!=8.0", (8, 0, 1), false),
    ];

    for (req, (major, minor, micro), expected) in cases {
        let parsed = VersionReq::parse(req).expect(req);
        assert_eq!(
            parsed.matches(major, minor, micro),
            expected,
            "{req} vs {major}.{minor}.{micro}"
        );
    }
}

#[test]
fn malformed_version_requirements_are_refused() {
    for req in ["", ">=", "7.x", "1.2.3.4", ">=7,", "~7"] {
        assert!(VersionReq::parse(req).is_err(), "{req:?}");
    }
}

#[test]
fn durations_parse() {
    let parsed: Vec<Duration> = ["30s", "2m", "1500ms", "1m30s"]
        .iter()
        .map(|s| parse_duration(s).expect(s))
        .collect();

    assert_eq!(
        parsed,
        [
            Duration::from_secs(30),
            Duration::from_secs(120),
            Duration::from_millis(1500),
            Duration::from_secs(90)
        ]
    );
    assert!(parse_duration("soon").is_err());
}

#[test]
fn regexes_are_multi_line() {
    let re = compile_regex("^b$").expect("regex");

    assert!(re.is_match("a\nb\nc"));
}
