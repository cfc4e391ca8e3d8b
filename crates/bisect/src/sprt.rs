//! Wald's sequential probability ratio test between two failure rates.

use crate::error::BisectError;

/// Which of the two rates the runs so far match, or that more runs are needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The runs match the good end's failure rate.
    Good,
    /// The runs match the bad end's failure rate.
    Bad,
    /// Neither yet: run again.
    Continue,
}

/// Wald's SPRT of H0 "a run fails with probability `p_good`" against H1 "with
/// probability `p_bad`" (`p_good < p_bad`). `alpha` bounds the chance of calling a
/// good commit bad, `beta` of calling a bad commit good.
///
/// After `n` runs of which `f` failed, the log-likelihood ratio is
/// `f·ln(p_bad/p_good) + (n−f)·ln((1−p_bad)/(1−p_good))`; the test says Bad once it
/// reaches `ln((1−beta)/alpha)`, Good once it falls to `ln(beta/(1−alpha))`.
///
/// # Examples
///
/// ```
/// use kennel_bisect::{Decision, Sprt};
///
/// let sprt = Sprt::new(0.2, 0.9, 0.01, 0.01).expect("valid");
/// assert_eq!(sprt.decide(1, 1), Decision::Continue);
/// assert_eq!(sprt.decide(4, 4), Decision::Bad);
/// assert_eq!(sprt.decide(3, 0), Decision::Good);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sprt {
    /// The good end's failure rate.
    pub p_good: f64,
    /// The bad end's failure rate.
    pub p_bad: f64,
    /// The chance of calling a good commit bad.
    pub alpha: f64,
    /// The chance of calling a bad commit good.
    pub beta: f64,
}

impl Sprt {
    /// The test between two rates in (0, 1), `p_good < p_bad`, at error rates in (0, 0.5).
    pub fn new(p_good: f64, p_bad: f64, alpha: f64, beta: f64) -> Result<Sprt, BisectError> {
        let rate = |p: f64| p > 0.0 && p < 1.0;
        let error = |e: f64| e > 0.0 && e < 0.5;
        if !(rate(p_good) && rate(p_bad) && p_good < p_bad) {
            return Err(BisectError::Rates { p_good, p_bad });
        }
        if !(error(alpha) && error(beta)) {
            return Err(BisectError::ErrorRates { alpha, beta });
        }
        Ok(Sprt {
            p_good,
            p_bad,
            alpha,
            beta,
        })
    }

    /// The log-likelihood ratio (bad over good) of `runs` runs of which `failures` failed.
    pub fn log_likelihood_ratio(&self, runs: u32, failures: u32) -> f64 {
        let passes = f64::from(runs.saturating_sub(failures));
        let failures = f64::from(failures.min(runs));
        failures * (self.p_bad / self.p_good).ln()
            + passes * ((1.0 - self.p_bad) / (1.0 - self.p_good)).ln()
    }

    /// What `runs` runs with `failures` failures say, checked after each run.
    pub fn decide(&self, runs: u32, failures: u32) -> Decision {
        let llr = self.log_likelihood_ratio(runs, failures);
        if llr >= ((1.0 - self.beta) / self.alpha).ln() {
            Decision::Bad
        } else if llr <= (self.beta / (1.0 - self.alpha)).ln() {
            Decision::Good
        } else {
            Decision::Continue
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (SplitMix64), so the simulations repeat.
    struct Rng(u64);

    impl Rng {
        fn chance(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            (z >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// Run the SPRT on a commit failing at `rate` until it decides (at most 1,000 runs).
    fn sequence(sprt: &Sprt, rate: f64, rng: &mut Rng) -> (Decision, u32) {
        let mut failures = 0;
        for runs in 1..=1000 {
            if rng.chance() < rate {
                failures += 1;
            }
            match sprt.decide(runs, failures) {
                Decision::Continue => {}
                d => return (d, runs),
            }
        }
        (Decision::Continue, 1000)
    }

    #[test]
    fn a_few_runs_decide_between_rates_far_apart() {
        let sprt = Sprt::new(0.2, 0.9, 0.01, 0.01).expect("valid");

        // ln(0.9/0.2) = 1.50 a failure, ln(0.1/0.8) = -2.08 a pass; bounds ±4.60.
        assert_eq!(sprt.decide(0, 0), Decision::Continue);
        assert_eq!(sprt.decide(3, 3), Decision::Continue);
        assert_eq!(sprt.decide(4, 4), Decision::Bad);
        assert_eq!(sprt.decide(2, 0), Decision::Continue);
        assert_eq!(sprt.decide(3, 0), Decision::Good);
        // Four failures then a pass: 6.02 - 2.08 = 3.94, undecided.
        assert_eq!(sprt.decide(5, 4), Decision::Continue);
        assert_eq!(sprt.decide(6, 5), Decision::Bad);
    }

    #[test]
    fn decisions_at_the_known_rates_err_no_more_than_alpha_and_beta() {
        let sprt = Sprt::new(0.2, 0.9, 0.01, 0.01).expect("valid");
        let mut rng = Rng(29);
        let trials = 4000;
        let (mut wrong_at_good, mut wrong_at_bad, mut runs) = (0, 0, 0);
        for _ in 0..trials {
            let (d, n) = sequence(&sprt, 0.2, &mut rng);
            wrong_at_good += u32::from(d != Decision::Good);
            let (d, m) = sequence(&sprt, 0.9, &mut rng);
            wrong_at_bad += u32::from(d != Decision::Bad);
            runs += n + m;
        }

        // Wald's bounds: at most alpha/(1-beta) and beta/(1-alpha), about 1%.
        assert!(
            wrong_at_good <= trials / 100,
            "{wrong_at_good} wrong at good"
        );
        assert!(wrong_at_bad <= trials / 100, "{wrong_at_bad} wrong at bad");
        let mean = f64::from(runs) / f64::from(2 * trials);
        assert!(mean < 6.0, "{mean} runs on average");
    }

    #[test]
    fn close_rates_need_many_more_runs() {
        let far = Sprt::new(0.2, 0.9, 0.01, 0.01).expect("valid");
        let close = Sprt::new(0.2, 0.4, 0.01, 0.01).expect("valid");
        let mut rng = Rng(7);
        let (mut far_runs, mut close_runs) = (0, 0);
        for _ in 0..500 {
            far_runs += sequence(&far, 0.4, &mut rng).1;
            close_runs += sequence(&close, 0.4, &mut rng).1;
        }

        assert!(close_runs > 5 * far_runs, "{close_runs} vs {far_runs}");
    }

    #[test]
    fn rates_in_the_wrong_order_or_certain_are_refused() {
        assert!(matches!(
            Sprt::new(0.9, 0.2, 0.01, 0.01),
            Err(BisectError::Rates { .. })
        ));
        assert!(Sprt::new(0.0, 0.9, 0.01, 0.01).is_err());
        assert!(Sprt::new(0.2, 1.0, 0.01, 0.01).is_err());
        assert!(matches!(
            Sprt::new(0.2, 0.9, 0.0, 0.01),
            Err(BisectError::ErrorRates { .. })
        ));
    }
}
