//! Which test starts next: within the parallel slots and the memory the machine has.

use std::collections::VecDeque;

use kennel_spec::{TestCase, TestFile};

use crate::discover::{Planned, PlannedTest};

/// What a running test costs the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Weight {
    /// Memory promised to its QEMUs (guest RAM plus QEMU's own), in MiB.
    pub memory_mib: u64,
    /// Slots it takes: its guests' vCPUs (TCG runs a thread per vCPU), at least 1.
    pub slots: usize,
    /// Runs alone.
    pub exclusive: bool,
}

/// QEMU's default guest RAM when `memory` is not set.
const DEFAULT_GUEST_MIB: u64 = 128;
/// What one QEMU process costs beyond its guest RAM, roughly.
const QEMU_OVERHEAD_MIB: u64 = 64;
/// What an executable test is assumed to need.
const EXECUTABLE_MIB: u64 = 256;

/// The weight of a planned test.
pub fn weight(test: &PlannedTest) -> Weight {
    match &test.what {
        Planned::Case { case, .. } => case.weight,
        Planned::Executable { .. } | Planned::CargoTest(_) | Planned::QemuTest(_) => Weight {
            memory_mib: EXECUTABLE_MIB,
            slots: 1,
            exclusive: false,
        },
        Planned::Invalid(_) => Weight {
            memory_mib: 0,
            slots: 1,
            exclusive: false,
        },
    }
}

/// The weight of a TOML test case: its machines' memory and vCPUs under its parameters.
pub fn case_weight(case: &TestCase) -> Weight {
    file_weight(&case.file, &case.params)
}

fn file_weight(file: &TestFile, params: &indexmap::IndexMap<String, kennel_spec::Value>) -> Weight {
    let mut memory = 0;
    let mut cpus = 0;
    for m in &file.machines {
        if m.expect_exit.is_some() {
            memory += QEMU_OVERHEAD_MIB;
            continue;
        }
        let guest = m
            .memory
            .as_ref()
            .and_then(|t| t.render(params).ok())
            .and_then(|s| parse_mib(&s))
            .unwrap_or(DEFAULT_GUEST_MIB);
        memory += guest + QEMU_OVERHEAD_MIB;
        cpus += m
            .cpus
            .as_ref()
            .and_then(|c| c.render(params).ok())
            .unwrap_or(1);
    }
    Weight {
        memory_mib: memory,
        slots: usize::try_from(cpus.max(1)).unwrap_or(usize::MAX),
        exclusive: file.exclusive,
    }
}

/// `-m` sizes: `512`, `512M`, `2G`, `1T`, `512MiB`, `65536k` (no suffix: MiB, as QEMU).
pub fn parse_mib(s: &str) -> Option<u64> {
    let s = s.trim().trim_start_matches("size=");
    let s = s.split(',').next().unwrap_or(s);
    let digits: String = s
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let n: f64 = digits.parse().ok()?;
    let unit = s[digits.len()..].trim().to_ascii_lowercase();
    let mib = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" | "m" => n,
        "k" => n / 1024.0,
        "g" => n * 1024.0,
        "t" => n * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(mib.ceil() as u64)
}

/// Memory the machine can give, in MiB: `MemAvailable` less a reserve for everything else.
pub fn available_memory_mib() -> u64 {
    let kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse::<u64>().ok())
        })
        .unwrap_or(4 << 20);
    (kib / 1024).saturating_sub(512).max(256)
}

/// Picks tests to start, in plan order where it can, never beyond the budget.
pub struct Scheduler {
    weights: Vec<Weight>,
    pending: VecDeque<usize>,
    slots: usize,
    memory_mib: u64,
    used_slots: usize,
    used_memory: u64,
    running: usize,
    exclusive_running: bool,
    /// How many times the head of the queue was overtaken.
    head_passed: usize,
    free_slot_ids: Vec<usize>,
}

impl Scheduler {
    /// A scheduler for tests with these weights, `slots` parallel slots and `memory_mib` of memory.
    pub fn new(weights: Vec<Weight>, slots: usize, memory_mib: u64) -> Scheduler {
        let slots = slots.max(1);
        Scheduler {
            pending: (0..weights.len()).collect(),
            weights,
            slots,
            memory_mib,
            used_slots: 0,
            used_memory: 0,
            running: 0,
            exclusive_running: false,
            head_passed: 0,
            free_slot_ids: (0..slots).rev().collect(),
        }
    }

    fn fits(&self, w: &Weight) -> bool {
        if self.running == 0 {
            return true; // whatever it weighs, a test alone on the machine runs
        }
        if self.exclusive_running || w.exclusive {
            return false;
        }
        self.used_slots + w.slots.min(self.slots) <= self.slots
            && self.used_memory + w.memory_mib <= self.memory_mib
    }

    /// The next test to start and the slot id it runs in (for the timeline), if one fits now.
    pub fn next_to_start(&mut self) -> Option<(usize, usize)> {
        let pick = if self
            .pending
            .front()
            .is_some_and(|&i| self.fits(&self.weights[i]))
        {
            Some(0)
        } else if self.head_passed < self.slots {
            // Let a smaller test overtake the head, a bounded number of times, so a big
            // test waits for room without starving.
            self.pending
                .iter()
                .position(|&i| self.fits(&self.weights[i]))
        } else {
            None
        }?;
        if pick == 0 {
            self.head_passed = 0;
        } else {
            self.head_passed += 1;
        }
        let index = self.pending.remove(pick)?;
        let w = self.weights[index];
        self.used_slots += w.slots.min(self.slots);
        self.used_memory += w.memory_mib;
        self.running += 1;
        self.exclusive_running |= w.exclusive;
        let slot = self.free_slot_ids.pop().unwrap_or(self.running - 1);
        Some((index, slot))
    }

    /// A test finished: give back what it held.
    pub fn finish(&mut self, index: usize, slot: usize) {
        let w = self.weights[index];
        self.used_slots = self.used_slots.saturating_sub(w.slots.min(self.slots));
        self.used_memory = self.used_memory.saturating_sub(w.memory_mib);
        self.running = self.running.saturating_sub(1);
        if w.exclusive {
            self.exclusive_running = false;
        }
        self.free_slot_ids.push(slot);
    }

    /// Stop starting anything (fail-fast, interrupt, job timeout).
    pub fn drain(&mut self) {
        self.pending.clear();
    }

    /// Nothing pending and nothing running.
    pub fn is_done(&self) -> bool {
        self.pending.is_empty() && self.running == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(memory_mib: u64, slots: usize, exclusive: bool) -> Weight {
        Weight {
            memory_mib,
            slots,
            exclusive,
        }
    }

    #[test]
    fn memory_sizes_parse_like_qemu() {
        assert_eq!(parse_mib("512"), Some(512));
        assert_eq!(parse_mib("512M"), Some(512));
        assert_eq!(parse_mib("2G"), Some(2048));
        assert_eq!(parse_mib("1.5G"), Some(1536));
        assert_eq!(parse_mib("65536k"), Some(64));
        assert_eq!(parse_mib("4GiB"), Some(4096));
        assert_eq!(parse_mib("lots"), None);
    }

    #[test]
    fn memory_budget_is_never_exceeded() {
        let mut s = Scheduler::new(
            vec![w(600, 1, false), w(600, 1, false), w(300, 1, false)],
            4,
            1000,
        );
        assert_eq!(s.next_to_start(), Some((0, 0)));
        // 600 + 600 > 1000: the third (300) may overtake.
        assert_eq!(s.next_to_start(), Some((2, 1)));
        assert_eq!(s.next_to_start(), None);
        s.finish(0, 0);
        assert_eq!(s.next_to_start(), Some((1, 0)));
    }

    #[test]
    fn a_test_bigger_than_the_budget_runs_alone() {
        let mut s = Scheduler::new(vec![w(5000, 1, false), w(100, 1, false)], 2, 1000);
        assert_eq!(s.next_to_start(), Some((0, 0)));
        assert_eq!(s.next_to_start(), None);
    }

    #[test]
    fn exclusive_tests_run_alone() {
        let mut s = Scheduler::new(
            vec![w(10, 1, false), w(10, 1, true), w(10, 1, false)],
            4,
            1000,
        );
        assert_eq!(s.next_to_start(), Some((0, 0)));
        // The exclusive head cannot start; the third overtakes it a bounded number of times.
        assert_eq!(s.next_to_start(), Some((2, 1)));
        assert_eq!(s.next_to_start(), None);
        s.finish(0, 0);
        s.finish(2, 1);
        assert_eq!(s.next_to_start().map(|(i, _)| i), Some(1));
        assert_eq!(s.next_to_start(), None);
    }

    #[test]
    fn vcpus_take_slots() {
        let mut s = Scheduler::new(vec![w(10, 2, false), w(10, 1, false)], 2, 1000);
        assert_eq!(s.next_to_start(), Some((0, 0)));
        assert_eq!(s.next_to_start(), None);
    }
}
