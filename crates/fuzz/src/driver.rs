//! The driver: replay a target's corpus, then mutate and generate inputs for
//! the time budget, checking each for a panic, its time and its memory.

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::alloc;
use crate::mutate::mutate;
use crate::rng::Rng;
use crate::settings::{corpus_dir, target_dir, Settings};

type Generator = Box<dyn FnMut(&mut Rng) -> Vec<u8>>;

/// One parser under fuzzing: its name (and corpus folder), the tokens of its
/// format, and optionally a generator of structured inputs.
pub struct Target {
    name: &'static str,
    dictionary: Vec<&'static [u8]>,
    generator: Option<Generator>,
    max_len: usize,
}

/// What a run did, printed as one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Inputs run in all, the corpus included.
    pub inputs: u64,
    /// Corpus entries replayed first.
    pub corpus: usize,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// The most bytes one input held at once.
    pub peak_bytes: usize,
    /// The slowest input.
    pub slowest: Duration,
}

/// The input being run, for the hang watchdog and the allocation hook.
struct Current {
    name: &'static str,
    input: Vec<u8>,
    started: Option<Instant>,
}

static CURRENT: Mutex<Current> = Mutex::new(Current {
    name: "",
    input: Vec::new(),
    started: None,
});

fn current() -> std::sync::MutexGuard<'static, Current> {
    CURRENT.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Target {
    /// A target named `name`: its corpus is `fuzz/corpus/<name>/`.
    pub fn new(name: &'static str) -> Target {
        Target {
            name,
            dictionary: Vec::new(),
            generator: None,
            max_len: 64 * 1024,
        }
    }

    /// Tokens of the format, inserted by mutation.
    pub fn dictionary(mut self, tokens: &[&'static [u8]]) -> Target {
        self.dictionary.extend_from_slice(tokens);
        self
    }

    /// A generator of structured inputs, used for a third of the inputs
    /// (half of them mutated further).
    pub fn generator(mut self, generate: impl FnMut(&mut Rng) -> Vec<u8> + 'static) -> Target {
        self.generator = Some(Box::new(generate));
        self
    }

    /// The longest input made (64 KiB by default).
    pub fn max_len(mut self, max_len: usize) -> Target {
        self.max_len = max_len;
        self
    }

    /// Run `check` on every corpus entry, then on new inputs for the budget of
    /// [`Settings::from_env`]. `check` panics when an invariant breaks.
    ///
    /// # Panics
    ///
    /// When an input made `check` panic, took longer than the input limit or
    /// held more memory than the memory limit (the input is saved under
    /// `target/fuzz-crashes/<name>/` and named in the message), or when the
    /// target has neither a corpus nor a generator.
    pub fn run(self, check: impl FnMut(&[u8])) -> Summary {
        self.run_with(&Settings::from_env(), check)
    }

    /// [`Target::run`] with explicit settings.
    pub fn run_with(mut self, settings: &Settings, mut check: impl FnMut(&[u8])) -> Summary {
        let corpus = read_corpus(self.name);
        assert!(
            !corpus.is_empty() || self.generator.is_some(),
            "fuzz target {} has no corpus in {} and no generator",
            self.name,
            corpus_dir(self.name).display()
        );
        let watchdog = Watchdog::start(settings.input_limit);
        let mut rng = Rng::new(settings.seed);
        let mut summary = Summary {
            inputs: 0,
            corpus: corpus.len(),
            elapsed: Duration::ZERO,
            peak_bytes: 0,
            slowest: Duration::ZERO,
        };
        let started = Instant::now();
        for input in &corpus {
            self.one(input, settings, &mut check, &mut summary);
        }
        while started.elapsed() < settings.duration {
            let input = self.next_input(&mut rng, &corpus);
            self.one(&input, settings, &mut check, &mut summary);
        }
        summary.elapsed = started.elapsed();
        watchdog.stop();
        report(self.name, settings, &summary);
        summary
    }

    fn next_input(&mut self, rng: &mut Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
        let generate = match &mut self.generator {
            Some(generate) if corpus.is_empty() || rng.one_in(3) => Some(generate),
            _ => None,
        };
        let mut input = match generate {
            Some(generate) => {
                let made = generate(rng);
                if rng.one_in(2) {
                    return made;
                }
                made
            }
            None => rng.pick(corpus).clone(),
        };
        let other = if corpus.is_empty() {
            &[][..]
        } else {
            &rng.pick(corpus)[..]
        };
        mutate(rng, &mut input, &self.dictionary, other, self.max_len);
        input
    }

    fn one(
        &self,
        input: &[u8],
        settings: &Settings,
        check: &mut impl FnMut(&[u8]),
        summary: &mut Summary,
    ) {
        {
            let mut now = current();
            now.name = self.name;
            now.input.clear();
            now.input.extend_from_slice(input);
            now.started = Some(Instant::now());
        }
        let began = Instant::now();
        alloc::watch(settings.memory_limit, refused);
        let outcome = catch_unwind(AssertUnwindSafe(|| check(input)));
        let peak = alloc::unwatch();
        let took = began.elapsed();
        current().started = None;
        summary.inputs += 1;
        summary.peak_bytes = summary.peak_bytes.max(peak);
        summary.slowest = summary.slowest.max(took);
        let broken = match outcome {
            Err(payload) => Some(format!("panicked: {}", panic_text(&*payload))),
            Ok(()) if peak > settings.memory_limit => {
                Some(format!("held {} MiB at once", peak / (1024 * 1024)))
            }
            Ok(()) => None,
        };
        if let Some(what) = broken {
            let saved = save(self.name, input);
            panic!(
                "fuzz target {}: input {} {what} (seed {}); saved to {} — fix the code, then move \
                 it into {} as a regression input\ninput: {}",
                self.name,
                summary.inputs,
                settings.seed,
                saved.display(),
                corpus_dir(self.name).display(),
                crate::excerpt(input, 400)
            );
        }
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".to_string())
}

/// The allocation hook: an input asked for one block over the limit.
fn refused(size: usize) {
    let (name, input) = {
        let now = current();
        (now.name, now.input.clone())
    };
    let saved = save(name, &input);
    let _ = writeln!(
        std::io::stderr(),
        "fuzz target {name}: an input asked for one allocation of {size} bytes, over the limit; \
         saved to {}; the process aborts",
        saved.display()
    );
}

fn read_corpus(name: &str) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(corpus_dir(name)) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// Save `input` as `target/fuzz-crashes/<name>/<hash>`, returning the path.
fn save(name: &str, input: &[u8]) -> PathBuf {
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let dir = target_dir().join("fuzz-crashes").join(name);
    let path = dir.join(format!("{hash:016x}"));
    let _ = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, input));
    path
}

fn report(name: &str, settings: &Settings, s: &Summary) {
    let line = format!(
        "fuzz {name}: {} inputs ({} from the corpus) in {:.1} s, seed {}, slowest input {} ms, \
         at most {} KiB held by one input",
        s.inputs,
        s.corpus,
        s.elapsed.as_secs_f64(),
        settings.seed,
        s.slowest.as_millis(),
        s.peak_bytes / 1024
    );
    eprintln!("{line}");
    if settings.long {
        let path = target_dir().join("fuzz-summary.txt");
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| writeln!(f, "{line}"));
    }
}

/// A thread that aborts the process when one input runs past the limit (a
/// hang cannot be caught otherwise), saving the input first.
struct Watchdog {
    done: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Watchdog {
    fn start(limit: Duration) -> Watchdog {
        let done = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&done);
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
                let now = current();
                if now.started.is_some_and(|t| t.elapsed() > limit) {
                    let saved = save(now.name, &now.input);
                    eprintln!(
                        "fuzz target {}: one input ran over {} s; saved to {}; the process aborts\ninput: {}",
                        now.name,
                        limit.as_secs_f64(),
                        saved.display(),
                        crate::excerpt(&now.input, 400)
                    );
                    std::process::abort();
                }
            }
        });
        Watchdog { done, thread }
    }

    fn stop(self) {
        self.done.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
    }
}
