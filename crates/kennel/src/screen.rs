//! The screen of a machine with a display ([`MachineBuilder::display`](crate::MachineBuilder::display)):
//! [`Vm::screendump`] and [`Vm::wait_screen`], matching references with the
//! same code as a TOML `screen` step (kennel-screen).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kennel_layout::{TestDir, SCREEN_PARTS};
use kennel_screen::{MatchSpec, Outcome, Polling, RgbImage};

use crate::error::{Error, ErrorKind, Result};
use crate::vm::Vm;

/// How long QEMU may take for one screendump.
const SCREENDUMP_TIME: Duration = Duration::from_secs(5);

/// The reference [`Vm::wait_screen`] matched.
#[derive(Debug, Clone, PartialEq)]
pub struct ScreenMatch {
    /// Its index in the references given.
    pub index: usize,
    /// Its similarity, 0 to 1.
    pub score: f64,
    /// Where on the screen its region was found (top-left corner).
    pub at: (u32, u32),
}

impl Vm {
    /// Save the screen as `<name>.png` in the test's log folder and return
    /// its path. QEMU refusing (no display) is an [`ErrorKind::Machine`]
    /// holding its message.
    pub fn screendump(&mut self, name: &str) -> Result<PathBuf> {
        let r = self.screendump_unnoted(name);
        self.noted(r)
    }

    fn screendump_unnoted(&mut self, name: &str) -> Result<PathBuf> {
        let path = TestDir::new(&self.logdir).screendump(name);
        self.logs
            .line(&format!("[{}] screendump {}", self.name, path.display()));
        let deadline = self.look_deadline();
        self.inner
            .machine()
            .screendump(&path, deadline)
            .map_err(|source| self.machine_error("screendump", source))?;
        Ok(path)
    }

    /// Wait up to `timeout` (within the test's time) until the screen matches
    /// one of `references` (PNG or PPM files) as `spec` says: the screen
    /// settles first, then the first reference to reach `spec.threshold`
    /// wins. None matching is an [`ErrorKind::ScreenMismatch`] with the best
    /// score and where; the log folder keeps the last screen, the closest
    /// reference's region and their diff (`screen-<machine>-<n>-last.png`, ...).
    ///
    /// ```no_run
    /// # fn t(vm: &mut kennel::Vm) -> kennel::Result<()> {
    /// use kennel::{MatchSpec, Rect};
    /// let spec = MatchSpec { region: Some(Rect::new(0, 0, 320, 16)), ..MatchSpec::default() };
    /// vm.wait_screen(&["refs/vga-line.png".as_ref()], &spec, std::time::Duration::from_secs(10))?;
    /// # Ok(()) }
    /// ```
    pub fn wait_screen(
        &mut self,
        references: &[&Path],
        spec: &MatchSpec,
        timeout: Duration,
    ) -> Result<ScreenMatch> {
        let r = self.wait_screen_unnoted(references, spec, timeout);
        self.noted(r)
    }

    fn wait_screen_unnoted(
        &mut self,
        references: &[&Path],
        spec: &MatchSpec,
        timeout: Duration,
    ) -> Result<ScreenMatch> {
        self.screen_waits += 1;
        let label = format!("{}-{}", self.name, self.screen_waits);
        self.logs.line(&format!(
            "[{}] wait for the screen to match {}",
            self.name,
            references
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let images = references
            .iter()
            .map(|p| kennel_screen::read_image(p))
            .collect::<std::result::Result<Vec<RgbImage>, _>>()
            .map_err(|source| ErrorKind::Screen {
                what: "reading a reference".into(),
                source,
            })?;
        let until = (Instant::now() + timeout).min(self.deadline);
        let test_deadline = self.deadline;
        let machine = self.inner.machine();
        let look = || (Instant::now() + SCREENDUMP_TIME).min(test_deadline);
        let outcome = kennel_screen::wait_for_match(
            || machine.screen(look()),
            &images,
            spec,
            until,
            &Polling::default(),
        )
        .map_err(|source| self.machine_error("screendump", source))?;
        match outcome {
            Outcome::Matched { index, score, .. } => Ok(ScreenMatch {
                index,
                score: score.value,
                at: score.at,
            }),
            Outcome::NoMatch {
                index,
                score,
                screen,
            } => {
                let dir = TestDir::new(&self.logdir);
                let paths = SCREEN_PARTS.map(|part| dir.screen_image(&label, part));
                let [a, b, c] = &paths;
                let kept = match kennel_screen::save_mismatch(
                    &screen,
                    &images[index],
                    spec,
                    score.at,
                    [a, b, c],
                ) {
                    Ok(()) => format!("kept in {}", self.logdir.display()),
                    Err(e) => format!("the images could not be kept: {e}"),
                };
                Err(ErrorKind::ScreenMismatch {
                    machine: self.name.clone(),
                    reference: references[index].to_path_buf(),
                    score: score.value,
                    threshold: spec.threshold,
                    region: spec.region_in(images[index].width(), images[index].height()),
                    at: score.at,
                    kept,
                }
                .into())
            }
        }
    }

    /// The bound of one screendump: 5 s, within the test's time.
    fn look_deadline(&self) -> Instant {
        (Instant::now() + SCREENDUMP_TIME).min(self.deadline)
    }

    fn machine_error(&self, what: &str, source: kennel_machine::MachineError) -> Error {
        ErrorKind::Machine {
            machine: self.name.clone(),
            what: what.into(),
            source,
        }
        .into()
    }
}
