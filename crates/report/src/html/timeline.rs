//! `report.html`'s timeline: a lane per slot, a bar per test (in a big job, a bar
//! per run of touching passing bars).

use kennel_runner::{Status, TestResult};
use serde::Serialize;

use super::page::class;
use crate::human_secs;

/// The timeline's drawing width (SVG user units) and geometry.
const TL_WIDTH: f64 = 1000.0;
const TL_LABEL: f64 = 60.0;
const TL_ROW: f64 = 22.0;
const TL_BAR: f64 = 16.0;
const TL_AXIS: f64 = 18.0;

#[derive(Serialize)]
pub(super) struct Timeline {
    width: f64,
    height: f64,
    label_width: f64,
    lanes: Vec<Lane>,
    ticks: Vec<Tick>,
    /// Time axis: seconds shown.
    #[serde(skip)]
    span: f64,
}

#[derive(Serialize)]
struct Lane {
    label: String,
    y: f64,
    text_y: f64,
}

#[derive(Serialize)]
struct Tick {
    x: f64,
    label: String,
}

#[derive(Serialize)]
pub(super) struct Bar {
    anchor: String,
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    class: &'static str,
    title: String,
}

/// The most lanes drawn: a slot's number comes from the journal, and a test
/// on a slot past the last lane is drawn on it.
pub(super) const MAX_LANES: usize = 256;

/// The lane of `slot`.
pub(super) fn lane(slot: usize) -> usize {
    slot.min(MAX_LANES - 1)
}

/// One lane per slot and the time axis (the bars are [`one_bar`] and [`Runs`]), for a
/// job of `duration_s` whose last test ended at `end_s`, on `slots` slots.
pub(super) fn timeline(duration_s: f64, end_s: f64, slots: usize) -> Timeline {
    let span = end_s.max(duration_s).max(0.001);
    let slots = slots.clamp(1, MAX_LANES);
    let plot = TL_WIDTH - TL_LABEL - 10.0;
    let x_of = |s: f64| TL_LABEL + (s.max(0.0) / span) * plot;
    let lanes = (0..slots)
        .map(|slot| {
            let y = TL_AXIS + slot as f64 * TL_ROW;
            Lane {
                label: format!("slot {slot}"),
                y,
                text_y: y + TL_ROW / 2.0 + 4.0,
            }
        })
        .collect();
    let step = nice_step(span / 8.0);
    let ticks = (0..)
        .map(|k| k as f64 * step)
        .take_while(|s| *s <= span + 1e-9)
        .map(|s| Tick {
            x: round1(x_of(s)),
            label: if s == 0.0 { "0".into() } else { human_secs(s) },
        })
        .collect();
    Timeline {
        width: TL_WIDTH,
        height: TL_AXIS + slots as f64 * TL_ROW + 4.0,
        label_width: TL_LABEL,
        lanes,
        ticks,
        span,
    }
}

/// The timeline bar of test `i`, placed by `start_s` and `duration_s`.
pub(super) fn one_bar(i: usize, t: &TestResult, timeline: &Timeline) -> Bar {
    let (x, w) = timeline.place(t);
    let mut title = format!(
        "#{} {} — {} in {}",
        i + 1,
        t.name,
        t.status,
        human_secs(t.duration_s)
    );
    if let Some(r) = &t.reason {
        title.push_str(&format!("\n{r}"));
    }
    Bar {
        anchor: format!("t{}", i + 1),
        x: round1(x),
        y: timeline.bar_y(t.slot),
        w: round1(w),
        h: TL_BAR,
        class: class(t.status),
        title,
    }
}

impl Timeline {
    /// Where a test's bar starts and how wide it is.
    fn place(&self, t: &TestResult) -> (f64, f64) {
        let plot = TL_WIDTH - TL_LABEL - 10.0;
        let x = TL_LABEL + (t.start_s.max(0.0) / self.span) * plot;
        let w = ((t.duration_s.max(0.0) / self.span) * plot).max(2.0);
        (x, w)
    }

    fn bar_y(&self, slot: usize) -> f64 {
        TL_AXIS + lane(slot) as f64 * TL_ROW + (TL_ROW - TL_BAR) / 2.0
    }
}

/// The passing and skipped bars of a big job, each slot's touching bars of one
/// status drawn as one (a job of ten thousand tests has a few hundred bars, not ten
/// thousand); failures are drawn one by one, over them.
pub(super) struct Runs<'a> {
    timeline: &'a Timeline,
    /// Per slot: the run being drawn.
    open: Vec<Option<Run>>,
}

struct Run {
    status: Status,
    slot: usize,
    x0: f64,
    x1: f64,
    n: usize,
    first: usize,
}

impl<'a> Runs<'a> {
    pub(super) fn new(timeline: &'a Timeline) -> Runs<'a> {
        Runs {
            timeline,
            open: Vec::new(),
        }
    }

    /// Add test `i` (passing or skipped ones; others are ignored); a run it ends is returned.
    pub(super) fn add(&mut self, i: usize, t: &TestResult) -> Option<Bar> {
        if !t.status.is_ok() {
            return None;
        }
        let (x, w) = self.timeline.place(t);
        let at = lane(t.slot);
        if self.open.len() <= at {
            self.open.resize_with(at + 1, || None);
        }
        let lane = &mut self.open[at];
        if let Some(run) = lane {
            if run.status == t.status && x <= run.x1 + 1.0 && x + w >= run.x0 - 1.0 {
                run.x0 = run.x0.min(x);
                run.x1 = run.x1.max(x + w);
                run.n += 1;
                return None;
            }
        }
        let done = lane.take().map(|r| self.bar(r));
        self.open[at] = Some(Run {
            status: t.status,
            slot: t.slot,
            x0: x,
            x1: x + w,
            n: 1,
            first: i,
        });
        done
    }

    /// The runs still open.
    pub(super) fn finish(mut self) -> Vec<Bar> {
        let open = std::mem::take(&mut self.open);
        open.into_iter().flatten().map(|r| self.bar(r)).collect()
    }

    fn bar(&self, r: Run) -> Bar {
        let what = if r.status == Status::Pass {
            "passed"
        } else {
            "skipped"
        };
        Bar {
            anchor: if r.n == 1 {
                format!("t{}", r.first + 1)
            } else {
                what.to_string()
            },
            x: round1(r.x0),
            y: self.timeline.bar_y(r.slot),
            w: round1(r.x1 - r.x0),
            h: TL_BAR,
            class: class(r.status),
            title: format!(
                "{} test{} {what}, from #{}",
                r.n,
                if r.n == 1 { "" } else { "s" },
                r.first + 1
            ),
        }
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let raw = raw.max(1e-3);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(0.13), 0.2);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(70.0), 100.0);
    }
}
