//! The two ends of a bisect: how often the tests failed at each, whether the two
//! rates are clearly apart, and the rates the SPRT tests between.

use serde::{Deserialize, Serialize};

/// Runs and failures counted at one commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Runs of the tests.
    pub runs: u32,
    /// Runs in which a test did not pass.
    pub failures: u32,
}

impl Tally {
    /// Count one more run.
    pub fn add(&mut self, failed: bool) {
        self.runs += 1;
        self.failures += u32::from(failed);
    }

    /// The failure rate as measured (0 with no runs).
    pub fn rate(&self) -> f64 {
        if self.runs == 0 {
            0.0
        } else {
            f64::from(self.failures) / f64::from(self.runs)
        }
    }

    /// The upper one-sided 95% bound of the failure rate (Wilson's score interval):
    /// what the SPRT takes for the good end, so that an end that happened to fail
    /// seldom in its runs does not make a good commit's failures look bad.
    pub fn upper_bound(&self) -> f64 {
        self.wilson(RATE_BOUND_Z)
    }

    /// The lower one-sided 95% bound of the failure rate: what the SPRT takes for
    /// the bad end.
    pub fn lower_bound(&self) -> f64 {
        self.wilson(-RATE_BOUND_Z)
    }

    fn wilson(&self, z: f64) -> f64 {
        if self.runs == 0 {
            return if z > 0.0 { 1.0 } else { 0.0 };
        }
        let n = f64::from(self.runs);
        let p = self.rate();
        let z2 = z * z;
        let centre = p + z2 / (2.0 * n);
        let spread = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
        ((centre + spread) / (1.0 + z2 / n)).clamp(0.0, 1.0)
    }
}

/// The normal quantile of the rates' one-sided 95% bounds.
pub const RATE_BOUND_Z: f64 = 1.645;

/// One-sided Fisher's exact test: the chance that the bad end would show at least as
/// many failures as it did if both ends failed at the same rate. Small means the
/// bad end clearly fails more often.
///
/// # Examples
///
/// ```
/// use kennel_bisect::{fisher_one_sided, Tally};
///
/// let good = Tally { runs: 20, failures: 4 };
/// let bad = Tally { runs: 20, failures: 18 };
/// assert!(fisher_one_sided(good, bad) < 0.001);
/// assert!(fisher_one_sided(good, good) > 0.5);
/// ```
pub fn fisher_one_sided(good: Tally, bad: Tally) -> f64 {
    let n = good.runs + bad.runs;
    let k = good.failures + bad.failures;
    let ln_fact: Vec<f64> = std::iter::once(0.0)
        .chain((1..=n).scan(0.0, |acc, i| {
            *acc += f64::from(i).ln();
            Some(*acc)
        }))
        .collect();
    let ln_choose =
        |a: u32, b: u32| ln_fact[a as usize] - ln_fact[b as usize] - ln_fact[(a - b) as usize];
    let most = k.min(bad.runs);
    let mut p = 0.0;
    for x in bad.failures..=most {
        // Failures at the good end in this table.
        let rest = k - x;
        if rest > good.runs {
            continue;
        }
        p += (ln_choose(bad.runs, x) + ln_choose(good.runs, rest) - ln_choose(n, k)).exp();
    }
    p.min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(runs: u32, failures: u32) -> Tally {
        Tally { runs, failures }
    }

    #[test]
    fn fisher_matches_a_hand_computed_table() {
        // 3 of 4 vs 0 of 4, 3 failures in all: only the observed table is as extreme,
        // C(4,3)·C(4,0)/C(8,3) = 4/56.
        let p = fisher_one_sided(tally(4, 0), tally(4, 3));

        assert!((p - 4.0 / 56.0).abs() < 1e-12, "{p}");
    }

    #[test]
    fn rates_far_apart_are_apart_and_equal_ones_are_not() {
        assert!(fisher_one_sided(tally(20, 0), tally(20, 20)) < 1e-9);
        assert!(fisher_one_sided(tally(20, 4), tally(20, 6)) > 0.2);
        // The bad end failing less often is not apart at all.
        assert!(fisher_one_sided(tally(20, 10), tally(20, 2)) > 0.99);
    }

    #[test]
    fn bounds_widen_with_few_runs_and_hold_the_rate() {
        // 1 of 20: Wilson's 95% upper bound is 0.196; 16 of 20: lower bound 0.622.
        assert!((tally(20, 1).upper_bound() - 0.196).abs() < 0.002);
        assert!((tally(20, 16).lower_bound() - 0.622).abs() < 0.002);
        assert!(tally(20, 0).upper_bound() > 0.1);
        assert!(tally(20, 20).lower_bound() < 0.9);
        assert!(tally(5, 1).upper_bound() > tally(50, 10).upper_bound());
        assert_eq!(tally(0, 0).rate(), 0.0);
        assert_eq!(tally(10, 2).rate(), 0.2);
    }
}
