//! kennel's recursive subset match between an expected and an actual JSON value.

use serde_json::{Number, Value};

/// Whether `actual` matches the `expected` pattern, per kennel's contract
/// (test-format "Matching"):
///
/// * an object matches when every expected key is present in `actual` and its
///   value matches (extra actual keys are allowed);
/// * an array matches when each expected element matches a *distinct* element of
///   the actual array: order is ignored and extra actual elements are allowed;
/// * numbers match when numerically equal, whatever their representation
///   (`1` matches `1.0`);
/// * other scalars (strings, booleans, null) match when equal.
///
/// # Examples
///
/// ```
/// use kennel_qmp::matches;
/// use serde_json::json;
///
/// let cpus = json!([{"name": "qemu64", "static": false}, {"name": "Nehalem", "static": false}]);
/// assert!(matches(&json!([{"name": "Nehalem"}]), &cpus));
/// assert!(!matches(&json!([{"name": "Nehalem"}, {"name": "Nehalem"}]), &cpus));
/// assert!(matches(&json!({"size": 1.0}), &json!({"size": 1, "unit": "GiB"})));
/// ```
pub fn matches(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(expected), Value::Object(actual)) => expected.iter().all(|(key, value)| {
            actual
                .get(key)
                .is_some_and(|actual_value| matches(value, actual_value))
        }),
        (Value::Array(expected), Value::Array(actual)) => distinct_match(expected, actual),
        (Value::Number(expected), Value::Number(actual)) => numbers_equal(expected, actual),
        _ => expected == actual,
    }
}

/// Whether every expected element can be paired with its own actual element:
/// a maximum bipartite matching (augmenting paths), since a greedy choice can
/// take the element that a later expected element needed.
fn distinct_match(expected: &[Value], actual: &[Value]) -> bool {
    if expected.len() > actual.len() {
        return false;
    }
    let candidates: Vec<Vec<usize>> = expected
        .iter()
        .map(|e| {
            (0..actual.len())
                .filter(|&a| matches(e, &actual[a]))
                .collect()
        })
        .collect();
    // owner[a] = the expected element currently paired with actual element `a`.
    let mut owner: Vec<Option<usize>> = vec![None; actual.len()];
    (0..expected.len()).all(|e| {
        let mut visited = vec![false; actual.len()];
        augment(e, &candidates, &mut owner, &mut visited)
    })
}

/// Try to pair expected element `e`, re-pairing earlier ones if needed.
fn augment(
    e: usize,
    candidates: &[Vec<usize>],
    owner: &mut [Option<usize>],
    visited: &mut [bool],
) -> bool {
    for &a in &candidates[e] {
        if visited[a] {
            continue;
        }
        visited[a] = true;
        let free = match owner[a] {
            None => true,
            Some(other) => augment(other, candidates, owner, visited),
        };
        if free {
            owner[a] = Some(e);
            return true;
        }
    }
    false
}

/// Numeric equality across integer and float representations.
fn numbers_equal(expected: &Number, actual: &Number) -> bool {
    match (as_integer(expected), as_integer(actual)) {
        (Some(expected), Some(actual)) => expected == actual,
        _ => match (expected.as_f64(), actual.as_f64()) {
            (Some(expected), Some(actual)) => expected == actual,
            _ => false,
        },
    }
}

fn as_integer(number: &Number) -> Option<i128> {
    number
        .as_i64()
        .map(i128::from)
        .or_else(|| number.as_u64().map(i128::from))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn object_matches_with_extra_actual_keys() {
        assert!(matches(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
    }

    #[test]
    fn object_with_missing_key_does_not_match() {
        assert!(!matches(&json!({"a": 1, "c": 3}), &json!({"a": 1, "b": 2})));
    }

    #[test]
    fn empty_object_matches_any_object_but_not_other_types() {
        assert!(matches(&json!({}), &json!({"x": [1]})));
        assert!(!matches(&json!({}), &json!([])));
    }

    #[test]
    fn nested_objects_match_recursively() {
        let event = json!({"event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"},
                           "timestamp": {"seconds": 1, "microseconds": 2}});
        assert!(matches(
            &json!({"data": {"reason": "host-qmp-quit"}}),
            &event
        ));
        assert!(!matches(
            &json!({"data": {"reason": "guest-shutdown"}}),
            &event
        ));
    }

    #[test]
    fn array_order_is_ignored_and_extra_elements_allowed() {
        assert!(matches(&json!([3, 1]), &json!([1, 2, 3])));
    }

    #[test]
    fn each_expected_element_needs_a_distinct_actual_element() {
        assert!(!matches(
            &json!([{"a": 1}, {"a": 1}]),
            &json!([{"a": 1, "b": 2}])
        ));
        assert!(matches(
            &json!([{"a": 1}, {"a": 1}]),
            &json!([{"a": 1, "b": 2}, {"a": 1, "b": 3}])
        ));
    }

    #[test]
    fn distinct_matching_is_not_greedy() {
        // A greedy pass would give actual[0] to {"a": 1} and leave {"a": 1, "b": 2}
        // without a partner.
        let expected = json!([{"a": 1}, {"a": 1, "b": 2}]);
        let actual = json!([{"a": 1, "b": 2}, {"a": 1}]);
        assert!(matches(&expected, &actual));
    }

    #[test]
    fn distinct_matching_reassigns_through_long_chains() {
        let expected = json!([{"x": 1}, {"y": 1}, {"z": 1}]);
        let actual = json!([{"x": 1, "y": 1}, {"y": 1, "z": 1}, {"x": 1, "z": 1}]);
        assert!(matches(&expected, &actual));
    }

    #[test]
    fn more_expected_than_actual_elements_does_not_match() {
        assert!(!matches(&json!([1, 1]), &json!([1])));
    }

    #[test]
    fn empty_array_matches_any_array() {
        assert!(matches(&json!([]), &json!([1, 2])));
        assert!(!matches(&json!([]), &json!({})));
    }

    #[test]
    fn integers_and_floats_compare_by_value() {
        assert!(matches(&json!(1), &json!(1.0)));
        assert!(matches(&json!(1.0), &json!(1)));
        assert!(matches(&json!(-3), &json!(-3.0)));
        assert!(!matches(&json!(1), &json!(1.5)));
        assert!(matches(&json!(u64::MAX), &json!(u64::MAX)));
        assert!(!matches(&json!(u64::MAX), &json!(-1)));
    }

    #[test]
    fn scalars_match_when_equal() {
        assert!(matches(&json!("running"), &json!("running")));
        assert!(!matches(&json!("running"), &json!("paused")));
        assert!(matches(&json!(true), &json!(true)));
        assert!(!matches(&json!(true), &json!(1)));
        assert!(!matches(&json!("1"), &json!(1)));
    }

    #[test]
    fn null_matches_only_null() {
        assert!(matches(&json!(null), &json!(null)));
        assert!(!matches(&json!(null), &json!({})));
        assert!(!matches(&json!({"a": null}), &json!({})));
    }
}
