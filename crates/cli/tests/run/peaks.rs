//! The peak memory of every kennel process of a run: the runner and its test
//! processes, sampled while they live.
//!
//! Each kennel process's `VmHWM` (the kernel's high-water mark of its resident
//! memory) is read from `/proc/<pid>/status` every 20 ms; a process belongs to
//! the run when its program is named `kennel` and its command line names the
//! run's results folder (the runner's `--results-dir`, a test process's
//! `--logdir` inside it). QEMU and the guest are not kennel processes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::harness::*;

/// The peak of one kennel process.
#[derive(Debug, Clone)]
pub struct Peak {
    /// `run` (the runner) or `__run-test` (a test process).
    pub role: String,
    /// Its `VmHWM` in KiB.
    pub kib: u64,
}

/// [`kennel`], with the peak memory of each of its kennel processes.
pub fn kennel_with_peaks(args: &[&str], env: &[(&str, &str)]) -> (Run, Vec<Peak>) {
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<BTreeMap<u32, Peak>>> = Arc::default();
    let mut sampler = None;
    let run = kennel_while(args, env, |results| {
        let (stop, seen, results) = (stop.clone(), seen.clone(), results.to_owned());
        sampler = Some(std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                sample(&results, &mut seen.lock().expect("peaks"));
                std::thread::sleep(Duration::from_millis(20));
            }
        }));
    });
    stop.store(true, Ordering::SeqCst);
    if let Some(sampler) = sampler {
        sampler.join().expect("sampler");
    }
    let peaks = seen.lock().expect("peaks").values().cloned().collect();
    (run, peaks)
}

/// Read the high-water mark of every live kennel process of the run.
fn sample(results: &Path, seen: &mut BTreeMap<u32, Peak>) {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    let results = results.to_string_lossy().into_owned();
    for pid in entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
    {
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_kennel = args
            .first()
            .is_some_and(|a| Path::new(a).file_name().is_some_and(|n| n == "kennel"));
        if !is_kennel || !args.iter().any(|a| a.contains(&results)) {
            continue;
        }
        let Some(kib) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_owned();
                line.split_whitespace().nth(1)?.parse::<u64>().ok()
            })
        else {
            continue;
        };
        let role = args.get(1).cloned().unwrap_or_default();
        let peak = seen.entry(pid).or_insert(Peak { role, kib: 0 });
        peak.kib = peak.kib.max(kib);
    }
}

/// Panic unless every peak is below `limit_mib`, and unless both a runner and
/// a test process were seen; the peaks are printed for the record.
pub fn assert_peaks_below(peaks: &[Peak], limit_mib: u64) {
    for peak in peaks {
        println!(
            "peak memory of kennel {}: {} MiB",
            peak.role,
            peak.kib / 1024
        );
    }
    assert!(
        peaks.iter().any(|p| p.role == "run") && peaks.iter().any(|p| p.role == "__run-test"),
        "the runner and a test process were not both sampled: {peaks:?}"
    );
    let over: Vec<&Peak> = peaks.iter().filter(|p| p.kib > limit_mib * 1024).collect();
    assert!(over.is_empty(), "over {limit_mib} MiB: {over:?}");
}
