//! A bisect from start to end: measure the ends, then let `git bisect` choose each
//! commit and the SPRT decide it, saving the state after every run.

use std::path::PathBuf;

use crate::ends::{fisher_one_sided, Tally};
use crate::error::{BisectError, ProbeError};
use crate::git::{Git, Step};
use crate::sprt::{Decision, Sprt};
use crate::state::{CommitRecord, Outcome, Request, Settings, State, Verdict, STATE_FILE};

/// How building a commit went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Build {
    /// It built.
    Built,
    /// It did not build: the build's last lines.
    Failed(String),
}

/// How one run of the tests went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Run {
    /// Every test passed (or was skipped).
    Passed,
    /// A test did not pass.
    Failed,
    /// The tests cannot run at this commit (not there, do not load): why.
    CannotRun(String),
}

/// What builds the checked-out commit and runs the tests on it.
pub trait Probe {
    /// Build the work tree, at `commit`.
    fn build(&mut self, commit: &str) -> Result<Build, ProbeError>;
    /// Run the tests once, at `commit`.
    fn run(&mut self, commit: &str) -> Result<Run, ProbeError>;
}

/// Which commit a run or build is at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The good end.
    GoodEnd,
    /// The bad end.
    BadEnd,
    /// A commit between.
    Between,
}

/// What the bisect tells its caller as it goes.
#[derive(Debug)]
pub enum Event<'a> {
    /// Building a commit.
    Building {
        /// The commit.
        commit: &'a str,
        /// Where.
        place: Place,
    },
    /// A run ended; `tally` counts it.
    Ran {
        /// The commit.
        commit: &'a str,
        /// Where.
        place: Place,
        /// Whether it failed.
        failed: bool,
        /// The commit's runs so far.
        tally: Tally,
    },
    /// Both ends are measured and apart; the SPRT that decides each commit.
    EndsApart {
        /// The test.
        sprt: &'a Sprt,
        /// One-sided Fisher's exact test of the ends.
        p_value: f64,
    },
    /// A commit between the ends has its verdict.
    Verdict(&'a CommitRecord),
}

/// A bisect in one work tree, with its state file.
#[derive(Debug)]
pub struct Bisect {
    git: Git,
    path: PathBuf,
    state: State,
}

impl Bisect {
    /// The bisect in progress in `git`'s repository, if any.
    pub fn in_progress(git: &Git) -> Result<Option<Bisect>, BisectError> {
        let path = git.git_dir()?.join(STATE_FILE);
        Ok(State::load(&path)?.map(|state| Bisect {
            git: git.clone(),
            path,
            state,
        }))
    }

    /// Go on with the bisect in progress; with a request, only if it is the same one.
    pub fn resume(git: &Git, request: Option<&Request>) -> Result<Bisect, BisectError> {
        let Some(b) = Bisect::in_progress(git)? else {
            return Err(BisectError::NoState {
                path: git.git_dir()?.join(STATE_FILE),
            });
        };
        match request {
            Some(r) if r != &b.state.request => Err(BisectError::OtherBisect {
                path: b.path,
                asked: describe(&b.state.request),
            }),
            _ => Ok(b),
        }
    }

    /// Start a new bisect (the work tree must be clean, no `git bisect` running).
    pub fn start(git: &Git, request: Request, settings: Settings) -> Result<Bisect, BisectError> {
        Sprt::new(0.25, 0.75, settings.alpha, settings.beta)?;
        git.check_clean()?;
        if git.bisecting()? {
            return Err(BisectError::AlreadyBisecting {
                dir: git.dir().to_owned(),
            });
        }
        let good = git.commit(&request.good)?;
        let bad = git.commit(&request.bad)?;
        if !git.is_ancestor(&good, &bad)? {
            return Err(BisectError::NotAncestor {
                good: request.good,
                bad: request.bad,
            });
        }
        let state = State {
            request,
            settings,
            good,
            bad,
            original_head: git.head()?,
            good_runs: Tally::default(),
            bad_runs: Tally::default(),
            commits: Vec::new(),
            outcome: None,
        };
        let path = git.git_dir()?.join(STATE_FILE);
        state.save(&path)?;
        Ok(Bisect {
            git: git.clone(),
            path,
            state,
        })
    }

    /// End the bisect in progress, if any: `git bisect reset`, the original
    /// checkout back, the state file removed. Says whether there was one.
    pub fn reset(git: &Git) -> Result<bool, BisectError> {
        let Some(b) = Bisect::in_progress(git)? else {
            return Ok(false);
        };
        b.git.bisect_reset(&b.state.original_head)?;
        std::fs::remove_file(&b.path).map_err(|source| BisectError::WriteState {
            path: b.path.clone(),
            source,
        })?;
        Ok(true)
    }

    /// What the bisect knows.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The state file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Run the bisect to its end (or return at once when it has one), and check
    /// out what was checked out before.
    pub fn run(
        &mut self,
        probe: &mut dyn Probe,
        observe: &mut dyn FnMut(&Event),
    ) -> Result<Outcome, BisectError> {
        if let Some(o) = &self.state.outcome {
            return Ok(o.clone());
        }
        let sprt = self.measure_ends(probe, observe)?;
        let mut step = self.git.bisect_start(&self.state.bad, &self.state.good)?;
        // Replay the verdicts a killed bisect had reached.
        let decided: Vec<(String, Verdict)> = self
            .state
            .commits
            .iter()
            .filter_map(|c| Some((c.commit.clone(), c.verdict?)))
            .collect();
        for (commit, verdict) in decided {
            step = self.git.bisect_mark(&commit, verdict)?;
        }
        let outcome = loop {
            match step {
                Step::Examine(commit) => {
                    let verdict = self.examine(&commit, &sprt, probe, observe)?;
                    step = self.git.bisect_mark(&commit, verdict)?;
                }
                Step::FirstBad(commit) => {
                    let subject = self.git.subject(&commit)?;
                    break Outcome::FirstBad { commit, subject };
                }
                Step::OneOf(commits) => break Outcome::OneOf { commits },
            }
        };
        self.state.outcome = Some(outcome.clone());
        self.state.save(&self.path)?;
        self.git.bisect_reset(&self.state.original_head)?;
        Ok(outcome)
    }

    /// The runs at both ends (those not made yet), and the SPRT between their rates.
    fn measure_ends(
        &mut self,
        probe: &mut dyn Probe,
        observe: &mut dyn FnMut(&Event),
    ) -> Result<Sprt, BisectError> {
        for place in [Place::GoodEnd, Place::BadEnd] {
            let (end, commit) = match place {
                Place::GoodEnd => ("good", self.state.good.clone()),
                _ => ("bad", self.state.bad.clone()),
            };
            if self.end_tally(place).runs >= self.state.settings.end_runs {
                continue;
            }
            self.git.checkout(&commit)?;
            observe(&Event::Building {
                commit: &commit,
                place,
            });
            if let Build::Failed(why) = probe.build(&commit).map_err(at(&commit))? {
                return Err(BisectError::EndDoesNotBuild { end, commit, why });
            }
            while self.end_tally(place).runs < self.state.settings.end_runs {
                let failed = match probe.run(&commit).map_err(at(&commit))? {
                    Run::Passed => false,
                    Run::Failed => true,
                    Run::CannotRun(why) => {
                        return Err(BisectError::EndCannotRun { end, commit, why })
                    }
                };
                let tally = match place {
                    Place::GoodEnd => &mut self.state.good_runs,
                    _ => &mut self.state.bad_runs,
                };
                tally.add(failed);
                let tally = *tally;
                self.state.save(&self.path)?;
                observe(&Event::Ran {
                    commit: &commit,
                    place,
                    failed,
                    tally,
                });
            }
        }
        let (good, bad, settings) = (
            self.state.good_runs,
            self.state.bad_runs,
            self.state.settings,
        );
        let p_value = fisher_one_sided(good, bad);
        if p_value > settings.alpha || good.upper_bound() >= bad.lower_bound() {
            self.git.bisect_reset(&self.state.original_head)?;
            return Err(BisectError::NotApart {
                good,
                bad,
                p_value,
                alpha: settings.alpha,
            });
        }
        let sprt = Sprt::new(
            good.upper_bound(),
            bad.lower_bound(),
            settings.alpha,
            settings.beta,
        )?;
        observe(&Event::EndsApart {
            sprt: &sprt,
            p_value,
        });
        Ok(sprt)
    }

    fn end_tally(&self, place: Place) -> Tally {
        match place {
            Place::GoodEnd => self.state.good_runs,
            _ => self.state.bad_runs,
        }
    }

    /// Build `commit` (checked out by `git bisect`) and run until the SPRT decides
    /// or the runs allowed are spent.
    fn examine(
        &mut self,
        commit: &str,
        sprt: &Sprt,
        probe: &mut dyn Probe,
        observe: &mut dyn FnMut(&Event),
    ) -> Result<Verdict, BisectError> {
        let git = self.git.clone();
        let subject = git.subject(commit)?;
        let max_runs = self.state.settings.max_runs;
        let record = self.state.record(commit, || subject);
        if let Some(v) = record.verdict {
            return Ok(v);
        }
        observe(&Event::Building {
            commit,
            place: Place::Between,
        });
        let built = probe.build(commit).map_err(at(commit))?;
        self.record(commit).built = Some(built == Build::Built);
        let verdict = match built {
            Build::Failed(why) => self.decided(
                commit,
                Verdict::Skip,
                Some(format!("does not build: {why}")),
            ),
            Build::Built => loop {
                let tally = self.record(commit).tally;
                match sprt.decide(tally.runs, tally.failures) {
                    Decision::Good => break Verdict::Good,
                    Decision::Bad => break Verdict::Bad,
                    Decision::Continue if tally.runs >= max_runs => {
                        let note = format!(
                            "undecided after {} runs ({} failed): treated as skip",
                            tally.runs, tally.failures
                        );
                        break self.decided(commit, Verdict::Skip, Some(note));
                    }
                    Decision::Continue => {}
                }
                let failed = match probe.run(commit).map_err(at(commit))? {
                    Run::Passed => false,
                    Run::Failed => true,
                    Run::CannotRun(why) => {
                        let note = format!("the tests cannot run here: {why}");
                        break self.decided(commit, Verdict::Skip, Some(note));
                    }
                };
                let record = self.record(commit);
                record.tally.add(failed);
                let tally = record.tally;
                self.state.save(&self.path)?;
                observe(&Event::Ran {
                    commit,
                    place: Place::Between,
                    failed,
                    tally,
                });
            },
        };
        self.record(commit).verdict = Some(verdict);
        self.state.save(&self.path)?;
        observe(&Event::Verdict(self.record(commit)));
        Ok(verdict)
    }

    fn decided(&mut self, commit: &str, verdict: Verdict, note: Option<String>) -> Verdict {
        self.record(commit).note = note;
        verdict
    }

    fn record(&mut self, commit: &str) -> &mut CommitRecord {
        self.state.record(commit, String::new)
    }
}

fn at(commit: &str) -> impl FnOnce(ProbeError) -> BisectError + '_ {
    move |source| BisectError::Probe {
        commit: commit.to_owned(),
        source,
    }
}

/// A bisect's request on one line.
pub fn describe(r: &Request) -> String {
    format!("--good {} --bad {} of {}", r.good, r.bad, r.run.join(" "))
}
