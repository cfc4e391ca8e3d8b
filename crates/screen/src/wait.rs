//! The wait of a `screen` step, for both front ends: settle, then score the
//! references on each new screen until one matches or the time is up.

use std::time::{Duration, Instant};

use image::RgbImage;

use crate::{score, MatchSpec, Score, ScreenError};

/// How [`wait_for_match`] looks at the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Polling {
    /// Between the two dumps that show the screen has settled.
    pub settle_gap: Duration,
    /// The longest wait for two equal dumps in a row (a clock or a blinking
    /// cursor never settles): then the last dump is scored as it is.
    pub settle_limit: Duration,
    /// Between two looks while no reference matches.
    pub interval: Duration,
}

impl Default for Polling {
    fn default() -> Polling {
        Polling {
            settle_gap: Duration::from_millis(20),
            settle_limit: Duration::from_secs(2),
            interval: Duration::from_millis(100),
        }
    }
}

/// How a wait ended: the reference that matched, or the best one seen.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The first reference, in order, whose score reached the threshold.
    Matched {
        /// Its index in the references.
        index: usize,
        /// Its score, and where.
        score: Score,
        /// The screen it matched.
        screen: RgbImage,
    },
    /// None matched before the deadline.
    NoMatch {
        /// The index of the reference that came closest (on the last screen).
        index: usize,
        /// Its score, and where.
        score: Score,
        /// The last screen.
        screen: RgbImage,
    },
}

/// Look at the screen (`grab`) until one of `references` matches it as
/// `spec` says, or `deadline` passes: the screen first settles (two equal
/// dumps in a row, or [`Polling::settle_limit`]); then every reference is
/// scored on each new screen, the first to reach the threshold winning.
/// The screen is looked at least once, even past the deadline.
pub fn wait_for_match<E: From<ScreenError>>(
    mut grab: impl FnMut() -> Result<RgbImage, E>,
    references: &[RgbImage],
    spec: &MatchSpec,
    deadline: Instant,
    polling: &Polling,
) -> Result<Outcome, E> {
    let mut screen = settle(&mut grab, deadline, polling)?;
    loop {
        let mut best: Option<(usize, Score)> = None;
        for (index, reference) in references.iter().enumerate() {
            let found = score(&screen, reference, spec)?;
            if found.value >= spec.threshold {
                return Ok(Outcome::Matched {
                    index,
                    score: found,
                    screen,
                });
            }
            if best.is_none_or(|(_, b)| found.value > b.value) {
                best = Some((index, found));
            }
        }
        if Instant::now() >= deadline {
            let (index, score) = best.unwrap_or((
                0,
                Score {
                    value: 0.0,
                    at: (0, 0),
                },
            ));
            return Ok(Outcome::NoMatch {
                index,
                score,
                screen,
            });
        }
        pause(polling.interval, deadline);
        screen = grab()?;
    }
}

/// The screen once it has settled: two equal dumps in a row, or the last
/// dump after [`Polling::settle_limit`] (or at `deadline`).
pub fn settle<E>(
    mut grab: impl FnMut() -> Result<RgbImage, E>,
    deadline: Instant,
    polling: &Polling,
) -> Result<RgbImage, E> {
    let mut screen = grab()?;
    let settle_until = deadline.min(Instant::now() + polling.settle_limit);
    while Instant::now() < settle_until {
        pause(polling.settle_gap, settle_until);
        let next = grab()?;
        let settled = next == screen;
        screen = next;
        if settled {
            break;
        }
    }
    Ok(screen)
}

/// Sleep `gap`, but not past `until`.
fn pause(gap: Duration, until: Instant) {
    std::thread::sleep(gap.min(until.saturating_duration_since(Instant::now())));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rect;

    fn screen_with(level: u8) -> RgbImage {
        RgbImage::from_fn(64, 32, |x, y| {
            image::Rgb([
                if (x / 4 + y / 4).is_multiple_of(2) {
                    level
                } else {
                    0
                },
                0,
                0,
            ])
        })
    }

    fn quick() -> Polling {
        Polling {
            settle_gap: Duration::from_millis(1),
            settle_limit: Duration::from_millis(50),
            interval: Duration::from_millis(1),
        }
    }

    #[test]
    fn the_first_reference_that_matches_wins_once_the_screen_settles() {
        // The screen changes twice, then stays: the match is on the settled one.
        let mut shown = vec![screen_with(10), screen_with(60), screen_with(200)].into_iter();
        let last = screen_with(200);
        let grab = || -> Result<RgbImage, ScreenError> { Ok(shown.next().unwrap_or(last.clone())) };
        let refs = [screen_with(90), screen_with(200), screen_with(200)];
        let deadline = Instant::now() + Duration::from_secs(5);

        let outcome = wait_for_match(grab, &refs, &MatchSpec::default(), deadline, &quick())
            .expect("no error");

        assert!(
            matches!(outcome, Outcome::Matched { index: 1, .. }),
            "{outcome:?}"
        );
    }

    #[test]
    fn past_the_deadline_the_best_score_and_the_last_screen_are_kept() {
        let grab = || -> Result<RgbImage, ScreenError> { Ok(screen_with(200)) };
        let refs = [RgbImage::new(64, 32), screen_with(120)];
        let spec = MatchSpec {
            region: Some(Rect::new(0, 0, 32, 16)),
            ..MatchSpec::default()
        };
        let deadline = Instant::now() + Duration::from_millis(30);

        let outcome = wait_for_match(grab, &refs, &spec, deadline, &quick()).expect("no error");

        match outcome {
            Outcome::NoMatch {
                index,
                score,
                screen,
            } => {
                assert_eq!(index, 1);
                assert!(
                    score.value < DEFAULT_THRESHOLD && score.value > 0.0,
                    "{score:?}"
                );
                assert_eq!(screen, screen_with(200));
            }
            other => panic!("matched: {other:?}"),
        }
    }

    use crate::DEFAULT_THRESHOLD;
}
