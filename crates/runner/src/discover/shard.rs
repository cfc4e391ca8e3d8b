//! Shards of a plan: by count, or balanced by the time each test took before.

use super::plan::PlannedTest;

/// Keep shard `k` of `n` (1-based): every n-th test of the plan, starting at the
/// k-th. Deterministic for the same files and options; the shards together hold
/// every test exactly once, and their sizes differ by one at most.
pub fn shard(tests: Vec<PlannedTest>, k: usize, n: usize) -> Vec<PlannedTest> {
    let n = n.max(1);
    let keep: Vec<bool> = (0..tests.len())
        .map(|i| i % n == (k.max(1) - 1) % n)
        .collect();
    renumber(tests, &keep)
}

/// Keep shard `k` of `n` (1-based) of shards balanced by time: each test weighs the
/// seconds `history` gives it (by [`PlannedTest::name`]; an executable with TAP points
/// weighs the sum of its points, looked up as `<name>: <point>`), a test without
/// history weighs the average of those with one (every test weighs the same when
/// none has history: shards by count). Longest first, each test goes to the least
/// loaded shard (the lowest-numbered among equals). Deterministic; the shards
/// together hold every test exactly once, each in plan order.
pub fn shard_by_time(
    tests: Vec<PlannedTest>,
    k: usize,
    n: usize,
    history: &std::collections::HashMap<String, f64>,
) -> Vec<PlannedTest> {
    let weights = shard_weights(&tests, history);
    let owner = balance(&weights, n.max(1));
    let keep: Vec<bool> = owner.iter().map(|&s| s == (k.max(1) - 1)).collect();
    renumber(tests, &keep)
}

/// Seconds each test is expected to take, from `history` (see [`shard_by_time`]).
pub fn shard_weights(
    tests: &[PlannedTest],
    history: &std::collections::HashMap<String, f64>,
) -> Vec<f64> {
    let known: Vec<Option<f64>> = tests
        .iter()
        .map(|t| {
            let name = t.name();
            history.get(&name).copied().or_else(|| {
                let prefix = format!("{name}: ");
                let points: Vec<f64> = history
                    .iter()
                    .filter(|(k, _)| k.starts_with(&prefix))
                    .map(|(_, v)| *v)
                    .collect();
                (!points.is_empty()).then(|| points.iter().sum())
            })
        })
        .collect();
    let seen: Vec<f64> = known.iter().flatten().copied().collect();
    let average = if seen.is_empty() {
        1.0
    } else {
        seen.iter().sum::<f64>() / seen.len() as f64
    };
    known.into_iter().map(|w| w.unwrap_or(average)).collect()
}

/// The shard (0-based) of each weight: longest first into the least-loaded shard.
pub fn balance(weights: &[f64], n: usize) -> Vec<usize> {
    let n = n.max(1);
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| weights[b].total_cmp(&weights[a]).then(a.cmp(&b)));
    let mut load = vec![0.0f64; n];
    let mut owner = vec![0; weights.len()];
    for i in order {
        let mut best = 0;
        for (s, l) in load.iter().enumerate() {
            if *l < load[best] {
                best = s;
            }
        }
        load[best] += weights[i].max(0.0);
        owner[i] = best;
    }
    owner
}

/// Keep the tests marked in `keep`, numbered again from 0 with their log folders.
/// The tests whose `keep` is true, numbered again from 0 with their log
/// folders (a shard, or `kennel run --changed`'s selection).
pub fn keep_only(tests: Vec<PlannedTest>, keep: &[bool]) -> Vec<PlannedTest> {
    renumber(tests, keep)
}

fn renumber(tests: Vec<PlannedTest>, keep: &[bool]) -> Vec<PlannedTest> {
    tests
        .into_iter()
        .zip(keep)
        .filter(|(_, k)| **k)
        .enumerate()
        .map(|(new, (mut t, _))| {
            t.index = new;
            t.logdir = kennel_layout::renumbered(&t.logdir, new, &t.name());
            t
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::PathBuf;

    use super::*;
    use crate::discover::{logdir_for, Planned};

    /// 40 executables: four 60 s cloud boots at even positions 0..8, 36 QMP tests of 0.5 s.
    fn mixed_suite() -> (Vec<PlannedTest>, HashMap<String, f64>) {
        let mut tests = Vec::new();
        let mut history = HashMap::new();
        for i in 0..40 {
            let path = PathBuf::from(format!("tests/t{i:02}"));
            let secs = if i < 8 && i % 2 == 0 { 60.0 } else { 0.5 };
            history.insert(path.display().to_string(), secs);
            tests.push(PlannedTest {
                index: i,
                logdir: logdir_for(i, &format!("t{i:02}")),
                what: Planned::Executable { path },
                args: Vec::new(),
            });
        }
        (tests, history)
    }

    fn planned_secs(shard: &[PlannedTest], history: &HashMap<String, f64>) -> f64 {
        shard.iter().map(|t| history[&t.name()]).sum()
    }

    #[test]
    fn balanced_shards_of_a_mixed_suite_plan_within_1_3x_where_count_based_do_not() {
        let (tests, history) = mixed_suite();

        let by_count: Vec<f64> = (1..=2)
            .map(|k| planned_secs(&shard(tests.clone(), k, 2), &history))
            .collect();
        let by_time: Vec<f64> = (1..=2)
            .map(|k| planned_secs(&shard_by_time(tests.clone(), k, 2, &history), &history))
            .collect();

        let ratio = |v: &[f64]| v[0].max(v[1]) / v[0].min(v[1]);
        assert!(ratio(&by_count) > 1.3, "{by_count:?}");
        assert!(ratio(&by_time) <= 1.3, "{by_time:?}");
    }

    #[test]
    fn balanced_shards_cover_every_test_once_in_plan_order() {
        let (tests, history) = mixed_suite();

        let mut names: Vec<String> = (1..=3)
            .flat_map(|k| shard_by_time(tests.clone(), k, 3, &history))
            .map(|t| t.name())
            .collect();
        let first = shard_by_time(tests.clone(), 1, 3, &history);

        assert!(first.windows(2).all(|w| w[0].name() < w[1].name()));
        assert_eq!(first[0].index, 0);
        names.sort();
        let all: Vec<String> = tests.iter().map(PlannedTest::name).collect();
        assert_eq!(names, all);
    }

    #[test]
    fn without_history_shards_balance_by_count() {
        let (tests, _) = mixed_suite();

        let sizes: Vec<usize> = (1..=3)
            .map(|k| shard_by_time(tests.clone(), k, 3, &HashMap::new()).len())
            .collect();

        assert_eq!(sizes, [14, 13, 13]);
    }
}
