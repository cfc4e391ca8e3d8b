//! Warm starts with a real QEMU: machines restored from one template are
//! isolated from each other, get their own identity, and the template is
//! built once however many starts want it at the same time.
//!
//! Each test keeps its templates in a folder of its own, handed to the
//! machine core in its [`Workspace`] (not through a process-wide variable:
//! under plain `cargo test` the tests share one process and run at once);
//! the guest images come from the user's cache as usual.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use kennel_machine::{LogSink, MachineConfig};
use kennel_vm::warm::WarmCache;
use kennel_vm::{prepare, BuiltinGuest, Deadlines, MachineDesc, Start, TestLog, Vm, Workspace};

const TIMEOUT: Duration = Duration::from_secs(300);

/// A template folder of this test's own.
fn private_cache() -> tempfile::TempDir {
    tempfile::tempdir().expect("cache dir")
}

struct Started {
    vm: Vm,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

fn start(cache: &Path, arch: Option<&str>) -> Option<Started> {
    start_with(cache, arch, None)
}

fn start_with(cache: &Path, arch: Option<&str>, append: Option<&str>) -> Option<Started> {
    start_in(&WarmCache::new(cache), arch, append)
}

fn start_in(cache: &WarmCache, arch: Option<&str>, append: Option<&str>) -> Option<Started> {
    let ask = Ask {
        arch,
        append,
        ..Ask::default()
    };
    let tried = attempt(cache, &ask)?;
    let vm = tried
        .vm
        .unwrap_or_else(|e| panic!("start: {e}\n{}", text(&tried.log)));
    Some(Started {
        vm,
        log: tried.log,
        _dir: tried.dir,
    })
}

/// What a machine of these tests differs in.
#[derive(Default)]
struct Ask<'a> {
    arch: Option<&'a str>,
    append: Option<&'a str>,
    /// The QEMU binary (a script that runs the real one).
    binary: Option<&'a Path>,
    /// The test's time (default [`TIMEOUT`]).
    timeout: Option<Duration>,
    /// QEMU arguments of the machine's own.
    args: &'a [&'a str],
    /// Boot (`warm = false`).
    cold: bool,
}

/// A start, failed or not.
struct Attempt {
    vm: Result<Vm, kennel_vm::VmError>,
    log: PathBuf,
    dir: tempfile::TempDir,
}

/// Start the built-in guest machine `ask` describes with templates in
/// `cache`; `None` when this host cannot run it (the test is skipped).
fn attempt(cache: &WarmCache, ask: &Ask) -> Option<Attempt> {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("test.log");
    let workspace = Workspace {
        scratch: dir.path().to_path_buf(),
        logdir: dir.path().to_path_buf(),
        log: TestLog::create(&log),
        cmdline: LogSink::new(Box::new(
            std::fs::File::create(dir.path().join("cmdline")).expect("cmdline"),
        )),
        several: false,
        warm_cache: Some(cache.clone()),
    };
    let mut config = MachineConfig::new("main");
    config.arch = ask.arch.map(str::to_owned);
    config.append = ask.append.map(str::to_owned);
    config.binary = ask.binary.map(Path::to_path_buf);
    config.extra_args = ask.args.iter().map(|a| a.to_string()).collect();
    let mut desc = MachineDesc::new(config);
    desc.guest = Some(BuiltinGuest::Busybox);
    if ask.cold {
        desc.cold = Some("the test compares a boot".into());
    }
    let plan = match prepare(desc, &workspace) {
        Ok(plan) => plan,
        Err(kennel_vm::VmError::Unavailable(why)) => {
            kennel_testkit::missing(&kennel_machine::error_chain(&why));
            return None;
        }
        Err(e) => panic!("prepare: {e}"),
    };
    if let Err(why) = plan.config.resolve_binary() {
        kennel_testkit::missing(&why.to_string());
        return None;
    }
    let vm = plan.start(Deadlines::from_now(ask.timeout.unwrap_or(TIMEOUT)));
    Some(Attempt { vm, log, dir })
}

fn run(vm: &mut Vm, command: &str) -> String {
    let out = vm
        .run(command, Instant::now() + Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("`{command}`: {e}"));
    assert!(out.success(), "`{command}`: {out:?}");
    out.stdout.trim().to_owned()
}

/// The template `started` came from, which must be in `cache`: the test's
/// own folder, not the user's cache or another test's.
fn template_in(cache: &Path, started: &Started) -> String {
    let Start::Warm { template } = started.vm.start_kind() else {
        panic!("a warm start:\n{}", text(&started.log));
    };
    assert!(
        cache.join("warm").join(template).join("state").is_file(),
        "template {template} is not in the test's cache {}:\n{}",
        cache.display(),
        text(&started.log)
    );
    template.clone()
}

fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Issue 30: the isolation test wrote its mark in guest RAM of two QEMUs
/// running side by side, which cannot leak anyway. A warm built-in guest
/// has no disk (a disk in its arguments makes it boot), so what machines of
/// one template share is the template's saved state: a machine that wrote
/// its mark and ended leaves the state byte for byte as saved, and the next
/// machine restored from it does not see the mark.
#[test]
fn a_warm_machine_leaves_its_template_as_saved_for_the_next_one() {
    let cache = private_cache();
    let Some(mut first) = start(cache.path(), None) else {
        return;
    };
    let template = template_in(cache.path(), &first);
    let state = cache.path().join("warm").join(&template).join("state");
    let saved = std::fs::read(&state).expect("the saved state");

    let seen_first = run(
        &mut first.vm,
        "cat /tmp/mark 2>/dev/null || echo absent; echo one > /tmp/mark; sync",
    );
    drop(first);
    let Some(mut second) = start(cache.path(), None) else {
        return;
    };
    let seen_second = run(&mut second.vm, "cat /tmp/mark 2>/dev/null || echo absent");

    assert_eq!(template_in(cache.path(), &second), template);
    assert_eq!(seen_first, "absent");
    assert_eq!(seen_second, "absent");
    let now = std::fs::read(&state).expect("the state");
    assert!(
        now == saved,
        "the state changed: {} bytes, {} saved",
        now.len(),
        saved.len()
    );
}

#[test]
fn warm_machines_draw_their_own_random_bytes() {
    let cache = private_cache();
    let Some(mut first) = start(cache.path(), None) else {
        return;
    };
    let Some(mut second) = start(cache.path(), None) else {
        return;
    };

    let random_first = run(&mut first.vm, "head -c 16 /dev/urandom | od -An -tx1");
    let random_second = run(&mut second.vm, "head -c 16 /dev/urandom | od -An -tx1");

    assert!(matches!(second.vm.start_kind(), Start::Warm { .. }));
    assert_ne!(random_first, random_second);
}

/// The SHA-256 of the file at `path`, and its modification time.
fn fingerprint(path: &Path) -> (Vec<u8>, SystemTime) {
    use sha2::Digest as _;
    let mut file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut file, &mut hasher).expect("read the memory file");
    let modified = file.metadata().and_then(|m| m.modified()).expect("mtime");
    (hasher.finalize().to_vec(), modified)
}

/// A command filling most of a 256 MiB guest's memory with bytes no boot
/// writes: a tmpfs holding 160 MiB of `kennel-fill` lines (one MiB of them,
/// copied: under TCG, `yes` alone takes minutes), then its size and first
/// line. It takes 10 to 30 s under TCG.
const FILL_MEMORY: &str = "mkdir -p /mnt/fill && mount -t tmpfs -o size=200m fill /mnt/fill \
     && cd /mnt/fill && yes kennel-fill | head -c 1048576 > b \
     && for i in $(seq 160); do cat b; done > f && rm b && wc -c < f && head -n 1 f";

/// Issue 26: a restore maps the template's memory file copy-on-write. A
/// warm guest that writes all over its memory (and its kernel, moving pages
/// around) leaves the file as the template saved it: its hash and its
/// modification time are unchanged, while the guest did see its own writes.
#[test]
fn a_warm_guests_writes_never_reach_the_templates_memory_file() {
    let cache = private_cache();
    let Some(first) = start(cache.path(), None) else {
        return;
    };
    let template = template_in(cache.path(), &first);
    drop(first);
    let ram = cache.path().join("warm").join(&template).join("ram");
    let saved = fingerprint(&ram);
    let Some(mut filler) = start(cache.path(), None) else {
        return;
    };
    let log = text(&filler.log);
    assert!(log.contains("memory mapped copy-on-write from"), "{log}");

    let filled = filler
        .vm
        .run(FILL_MEMORY, Instant::now() + Duration::from_secs(240))
        .unwrap_or_else(|e| panic!("filling the memory: {e}"));
    drop(filler);

    assert!(filled.success(), "{filled:?}");
    assert_eq!(filled.stdout.trim(), "167772160\nkennel-fill");
    assert!(
        fingerprint(&ram) == saved,
        "the template's memory file changed"
    );
}

/// Issue 26: two warm guests of one template run at once over one memory
/// file. What one writes to its memory the other does not see, both ways,
/// while both run.
#[test]
fn two_warm_guests_of_one_template_running_at_once_do_not_see_each_others_memory() {
    let cache = private_cache();
    let Some(mut a) = start(cache.path(), None) else {
        return;
    };
    let Some(mut b) = start(cache.path(), None) else {
        return;
    };
    assert_eq!(template_in(cache.path(), &a), template_in(cache.path(), &b));

    run(&mut a.vm, "echo mark-of-a > /tmp/mark && sync");
    let b_sees = run(&mut b.vm, "cat /tmp/mark 2>/dev/null || echo absent");
    run(&mut b.vm, "echo mark-of-b > /tmp/mark-b && sync");
    let a_sees = run(
        &mut a.vm,
        "cat /tmp/mark-b 2>/dev/null || echo absent; cat /tmp/mark",
    );

    assert_eq!(b_sees, "absent");
    assert_eq!(a_sees, "absent\nmark-of-a");
    let log = text(&b.log);
    assert!(log.contains("memory mapped copy-on-write from"), "{log}");
}

/// The guest's clock, and the host's, in seconds since 1970.
fn clocks(vm: &mut Vm) -> (u64, u64) {
    let guest: u64 = run(vm, "date +%s").parse().expect("seconds");
    let host = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    (guest, host)
}

/// The guest's real-time clock says 2001 (`-rtc base=`): a guest that boots
/// from it believes it is 2001 until its clock is set.
const RTC_2001: &[&str] = &["-rtc", "base=2001-01-01T00:00:00"];

/// Issue 30: the clock refresh was checked on templates saved seconds
/// before, so a guest whose clock was never set passed. The template's
/// guest booted believing it is 2001 (its RTC says so, which a cold boot of
/// the same machine shows): restored, its clock is the host's.
fn a_restored_guest_takes_the_hosts_time_from_a_template_of_2001(
    arch: Option<&str>,
    binary: Option<&Path>,
) {
    let cache = private_cache();
    let booted = Ask {
        arch,
        binary,
        args: RTC_2001,
        ..Ask::default()
    };
    let warm = WarmCache::new(cache.path());
    let Some(template) = attempt(&warm, &booted) else {
        return;
    };
    drop(template);
    let Some(restored) = attempt(&warm, &booted) else {
        return;
    };
    let log = text(&restored.log);
    let mut vm = restored.vm.unwrap_or_else(|e| panic!("start: {e}\n{log}"));

    let (guest, host) = clocks(&mut vm);

    assert!(matches!(vm.start_kind(), Start::Warm { .. }), "{log}");
    assert!(
        host.abs_diff(guest) <= 5,
        "guest {guest}, host {host}\n{log}"
    );
    // The template's guest did believe it was 2001: a cold boot of it does.
    let cold_cache = private_cache();
    let Some(cold) = attempt(
        &WarmCache::new(cold_cache.path()),
        &Ask {
            arch,
            binary,
            args: RTC_2001,
            cold: true,
            ..Ask::default()
        },
    ) else {
        return;
    };
    let mut cold = cold.vm.expect("a cold boot");
    assert_eq!(run(&mut cold, "date +%Y"), "2001");
}

#[test]
fn a_restored_guest_takes_the_hosts_time_through_its_agent() {
    a_restored_guest_takes_the_hosts_time_from_a_template_of_2001(None, None);
}

/// The console-only guests' refresh is `date -s` through the shell.
#[test]
fn a_restored_aarch64_guest_takes_the_hosts_time_through_its_console() {
    a_restored_guest_takes_the_hosts_time_from_a_template_of_2001(Some("aarch64"), None);
}

/// The ppc64 guest's console too, with a QEMU that keeps its timer through
/// a saved state (QEMU 10 of `scripts/fetch-qemu10.sh`; 7.2 boots ppc64).
#[test]
fn a_restored_ppc64_guest_takes_the_hosts_time_through_its_console() {
    let qemu =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../build/qemu-10/usr/bin/qemu-system-ppc64");
    if !qemu.is_file() {
        kennel_testkit::missing("QEMU 10 for ppc64 (scripts/fetch-qemu10.sh)");
        return;
    }
    a_restored_guest_takes_the_hosts_time_from_a_template_of_2001(Some("ppc64"), Some(&qemu));
}

#[test]
fn machines_starting_together_build_their_template_once() {
    let cache = private_cache();
    let starts: Vec<Option<Started>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|_| s.spawn(|| start(cache.path(), None)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let Some(starts) = starts.into_iter().collect::<Option<Vec<Started>>>() else {
        return;
    };

    let logs: Vec<String> = starts.iter().map(|s| text(&s.log)).collect();
    let builds = logs
        .iter()
        .filter(|l| l.contains("built (booted, saved)"))
        .count();
    assert_eq!(builds, 1, "{logs:#?}");
    for started in &starts {
        template_in(cache.path(), started);
    }
}

#[test]
fn an_aarch64_guest_starts_warm_and_answers_on_its_console() {
    let cache = private_cache();
    let Some(_template) = start(cache.path(), Some("aarch64")) else {
        return;
    };
    let Some(mut started) = start(cache.path(), Some("aarch64")) else {
        return;
    };

    let answer = run(&mut started.vm, "echo warm-$((40 + 2))");

    assert!(
        matches!(started.vm.start_kind(), Start::Warm { .. }),
        "{}",
        text(&started.log)
    );
    assert_eq!(answer, "warm-42");
}

/// Whether the QEMU that runs ppc64 guests here carries a guest's
/// decrementer (its timer) through a saved state under TCG: QEMU 8.2 and later.
fn ppc64_qemu_keeps_the_guests_timer() -> bool {
    let mut config = MachineConfig::new("probe");
    config.arch = Some("ppc64".into());
    let binary = config.resolve_binary().expect("qemu-system-ppc64");
    let version = std::process::Command::new(&binary.path)
        .arg("--version")
        .output()
        .expect("qemu-system-ppc64 --version");
    let version = kennel_machine::parse_qemu_version(&String::from_utf8_lossy(&version.stdout))
        .expect("a version");
    version >= (8, 2, 0)
}

/// A restored ppc64 guest once hung on its console: QEMU before 8.2 drops
/// the guest's decrementer from a saved state under TCG, so the restored
/// guest never gets another timer interrupt. There, ppc64 boots; from 8.2 on,
/// it starts warm. Either way its console shell answers, `sleep` included.
#[test]
fn a_ppc64_guest_starts_warm_where_qemu_keeps_its_timer_and_answers_on_its_console() {
    let cache = private_cache();
    let Some(_template) = start(cache.path(), Some("ppc64")) else {
        return;
    };
    let Some(mut started) = start(cache.path(), Some("ppc64")) else {
        return;
    };

    let machine = run(&mut started.vm, "uname -m");
    let slept = run(&mut started.vm, "sleep 1; echo slept");
    let answer = run(&mut started.vm, "echo warm-$((40 + 2))");

    let log = text(&started.log);
    if ppc64_qemu_keeps_the_guests_timer() {
        assert!(
            matches!(started.vm.start_kind(), Start::Warm { .. }),
            "{log}"
        );
    } else {
        assert_eq!(started.vm.start_kind(), &Start::Cold, "{log}");
        assert!(log.contains("ppc64 guest's timer (decrementer)"), "{log}");
    }
    assert_eq!(machine, "ppc64le");
    assert_eq!(slept, "slept");
    assert_eq!(answer, "warm-42");
}

#[test]
fn a_changed_kernel_command_line_starts_from_a_new_template() {
    let cache = private_cache();
    let Some(plain) = start(cache.path(), None) else {
        return;
    };
    let Some(changed) = start_with(cache.path(), None, Some("kennel.test=1")) else {
        return;
    };

    let (Start::Warm { template: a }, Start::Warm { template: b }) =
        (plain.vm.start_kind(), changed.vm.start_kind())
    else {
        panic!(
            "both start warm:\n{}\n{}",
            text(&plain.log),
            text(&changed.log)
        );
    };
    assert_ne!(a, b);
}

/// Make template `id` of `cache` look last used an hour ago.
fn age(cache: &Path, id: &str) {
    let state = cache.join("warm").join(id).join("state");
    let file = std::fs::File::options()
        .append(true)
        .open(&state)
        .expect("state");
    file.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .expect("age the state");
}

/// Issue 30: eviction was tested on made-up folders only. A cache bounded
/// to one byte keeps the template in use and the one used minutes ago, and
/// after the next build drops the one last used an hour ago.
#[test]
fn a_full_cache_drops_its_least_recently_used_template_after_a_build() {
    let root = private_cache();
    let cache = WarmCache::new(root.path()).with_max_size(1);
    let Some(a) = start_in(&cache, None, Some("kennel.test=a")) else {
        return;
    };
    let a = template_in(root.path(), &a);
    let Some(b) = start_in(&cache, None, Some("kennel.test=b")) else {
        return;
    };
    let b = template_in(root.path(), &b);
    let kept: Vec<String> = cache
        .list()
        .expect("list")
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(kept.len(), 2, "both used in the last minutes: {kept:?}");

    age(root.path(), &a);
    let Some(c) = start_in(&cache, None, Some("kennel.test=c")) else {
        return;
    };
    let c = template_in(root.path(), &c);

    let mut kept: Vec<String> = cache
        .list()
        .expect("list")
        .into_iter()
        .map(|e| e.id)
        .collect();
    kept.sort();
    let mut expected = vec![b, c];
    expected.sort();
    assert_eq!(kept, expected, "template {a} was last used an hour ago");
    assert!(!root.path().join("warm").join(&a).exists());
}

/// A QEMU for the fallback tests: a script that runs the real one with a
/// `cat` of its own first on `PATH` (QEMU saves a state through
/// `exec:cat > STATE` and loads it through `exec:cat STATE`). That `cat`
/// reads `mode` in the script's folder: `fail-save` fails every save,
/// `hang-restore` gives no state for 40 s (the restore never answers in
/// its 30 s); else it is `cat`.
struct FaultyCat {
    dir: tempfile::TempDir,
    qemu: PathBuf,
}

impl FaultyCat {
    fn new() -> Option<FaultyCat> {
        use std::os::unix::fs::PermissionsExt;
        let real = match MachineConfig::new("probe").resolve_binary() {
            Ok(binary) => binary.path,
            Err(why) => {
                kennel_testkit::missing(&why.to_string());
                return None;
            }
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).expect("bin");
        let mode = dir.path().join("mode");
        let scripts = [
            (
                bin.join("cat"),
                format!(
                    "#!/bin/sh\ncase \"$(/bin/cat '{}' 2>/dev/null):$#\" in\n\
                     fail-save:0) exit 1 ;;\nhang-restore:1) exec sleep 40 ;;\nesac\n\
                     exec /bin/cat \"$@\"\n",
                    mode.display()
                ),
            ),
            (
                dir.path().join("qemu"),
                format!(
                    "#!/bin/sh\nPATH='{}':\"$PATH\" exec '{}' \"$@\"\n",
                    bin.display(),
                    real.display()
                ),
            ),
        ];
        for (path, text) in &scripts {
            std::fs::write(path, text).expect("script");
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let qemu = dir.path().join("qemu");
        Some(FaultyCat { dir, qemu })
    }

    fn set(&self, mode: &str) {
        std::fs::write(self.dir.path().join("mode"), mode).expect("mode");
    }

    fn ask(&self) -> Ask<'_> {
        Ask {
            binary: Some(&self.qemu),
            ..Ask::default()
        }
    }
}

/// Issue 30: a template that fails to build had no test. Its save fails:
/// the machine boots instead, test.log says why, and no template is left.
#[test]
fn a_template_whose_save_fails_leaves_the_machine_to_boot_and_says_why() {
    let cache = private_cache();
    let Some(qemu) = FaultyCat::new() else { return };
    qemu.set("fail-save");

    let Some(tried) = attempt(&WarmCache::new(cache.path()), &qemu.ask()) else {
        return;
    };

    let log = text(&tried.log);
    let mut vm = tried.vm.unwrap_or_else(|e| panic!("start: {e}\n{log}"));
    assert_eq!(vm.start_kind(), &Start::Cold, "{log}");
    assert!(
        log.contains("machine `main` boots: no warm start (saving the state failed"),
        "{log}"
    );
    assert_eq!(run(&mut vm, "echo up"), "up");
    let left: Vec<_> = std::fs::read_dir(cache.path().join("warm"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name())
        .filter(|name| !name.to_string_lossy().ends_with(".lock"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Issue 30: a restore that does not answer in its 30 s had no test. The
/// state never comes: the machine boots in the time left and says why.
#[test]
fn a_restore_that_never_loads_gives_way_to_a_boot_and_says_why() {
    let cache = private_cache();
    let Some(qemu) = FaultyCat::new() else { return };
    let warm = WarmCache::new(cache.path());
    let Some(first) = attempt(&warm, &qemu.ask()) else {
        return;
    };
    let first_log = text(&first.log);
    let first = first
        .vm
        .unwrap_or_else(|e| panic!("start: {e}\n{first_log}"));
    assert!(
        matches!(first.start_kind(), Start::Warm { .. }),
        "{first_log}"
    );
    drop(first);
    qemu.set("hang-restore");

    let Some(tried) = attempt(&warm, &qemu.ask()) else {
        return;
    };

    let log = text(&tried.log);
    let mut vm = tried.vm.unwrap_or_else(|e| panic!("start: {e}\n{log}"));
    assert_eq!(vm.start_kind(), &Start::Cold, "{log}");
    assert!(
        log.contains(
            "machine `main` boots: no warm start (the restored machine was still loading its \
             state when its time to answer ran out"
        ),
        "{log}"
    );
    assert_eq!(run(&mut vm, "echo up"), "up");
}

/// Issue 30: a wait for another process's build reaching the deadline had
/// no test. The template's lock stays held: the start ends by its deadline,
/// and test.log says the template was still being built.
#[test]
fn a_wait_for_a_template_another_process_builds_ends_at_the_deadline() {
    let cache = private_cache();
    let Some(first) = start(cache.path(), None) else {
        return;
    };
    let id = template_in(cache.path(), &first);
    drop(first);
    std::fs::remove_dir_all(cache.path().join("warm").join(&id)).expect("remove the template");
    let lock = cache.path().join("warm").join(format!("{id}.lock"));
    let _builder = kennel_assets::FileLock::try_acquire(&lock)
        .expect("lock")
        .expect("nobody holds it");
    let ask = Ask {
        timeout: Some(Duration::from_secs(5)),
        ..Ask::default()
    };

    let Some(tried) = attempt(&WarmCache::new(cache.path()), &ask) else {
        return;
    };

    let log = text(&tried.log);
    assert!(
        log.contains(&format!(
            "machine `main` boots: no warm start (template {id} was still being built at the deadline)"
        )),
        "{log}"
    );
    if let Ok(vm) = &tried.vm {
        assert_eq!(vm.start_kind(), &Start::Cold, "{log}");
    }
}
