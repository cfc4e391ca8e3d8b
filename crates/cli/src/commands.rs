//! Each subcommand: turn checked arguments into library calls and an exit status.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use kennel_report::{JsonEvents, LiveTerminal, Reporter, ResultsDir, ResultsFile, Terminal};
use kennel_runner::{Discovery, JobOptions, Planned, PlannedTest, RunEvent};
use kennel_spec::{TagFilter, Value};

use crate::args::{
    AssetFlags, AssetsCommand, Cli, Command, DoctorArgs, Format, GuestArgs, GuestCommand, ListArgs,
    ReplayArgs, ReportAction, ReportArgs, RunArgs, RunTestArgs, Selection,
};
use crate::exit;

pub fn dispatch(cli: Cli) -> i32 {
    match cli.command {
        Command::Run(a) => run(a),
        Command::List(a) => list(a),
        Command::Replay(a) => replay(a),
        Command::Report(a) => report(a),
        Command::Assets(a) => assets(a),
        Command::Guest(a) => guest(a),
        Command::Doctor(a) => doctor(a),
        Command::RunTest(a) => run_test(a),
    }
}

/// A checked selection: discovered files, parsed filter and parameters.
struct Selected {
    discovery: Discovery,
    overrides: IndexMap<String, Value>,
    planned: Vec<PlannedTest>,
}

fn select(sel: &Selection) -> Result<Selected, String> {
    let filter = TagFilter::parse(&sel.tags).map_err(|e| format!("--tags: {e}"))?;
    let mut overrides = IndexMap::new();
    for p in &sel.params {
        let (k, v) = kennel_spec::parse_param(p).map_err(|e| format!("-p {p}: {e}"))?;
        overrides.insert(k, v);
    }
    let paths = if sel.paths.is_empty() && !sel.cargo {
        default_paths()?
    } else {
        sel.paths.clone()
    };
    let discovery = kennel_runner::discover(&paths).map_err(|e| e.to_string())?;
    let mut planned = kennel_runner::plan(&discovery, &overrides, &filter);
    if sel.cargo && filter.is_empty() {
        let tests = kennel_runner::cargo::discover_cargo(&sel.packages)
            .map_err(|e| kennel_runner::error_chain(&e))?;
        kennel_runner::cargo::plan_cargo(&mut planned, tests);
    }
    if let Some(spec) = &sel.shard {
        let (k, n) = parse_shard(spec)?;
        planned = kennel_runner::shard(planned, k, n);
    }
    Ok(Selected {
        discovery,
        overrides,
        planned,
    })
}

/// `kennel.toml` in the working directory: the project's defaults.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ProjectConfig {
    /// Where the tests are.
    #[serde(default)]
    paths: Vec<PathBuf>,
    /// The image provider's mirror (`KENNEL_IMAGE_MIRROR` wins): a URL, or a
    /// folder relative to `kennel.toml`.
    image_mirror: Option<String>,
}

/// Before any thread starts: `image_mirror` of `kennel.toml` becomes
/// `KENNEL_IMAGE_MIRROR` for kennel and its test processes, unless set already.
/// (A malformed file is reported by the command that reads its paths.)
pub fn apply_project_config() {
    if std::env::var_os(kennel_cloud::MIRROR_ENV).is_some() {
        return;
    }
    let Ok(Some(config)) = project_config() else {
        return;
    };
    let Some(mirror) = config.image_mirror else {
        return;
    };
    let url = if mirror.contains("://") {
        mirror
    } else {
        match std::path::absolute(&mirror) {
            Ok(dir) => format!("file://{}", dir.display()),
            Err(_) => return,
        }
    };
    // Single-threaded here: main calls this first.
    std::env::set_var(kennel_cloud::MIRROR_ENV, url);
}

/// `kennel.toml` of the working directory, if there is one.
fn project_config() -> Result<Option<ProjectConfig>, String> {
    let file = std::path::Path::new("kennel.toml");
    let Ok(text) = std::fs::read_to_string(file) else {
        return Ok(None);
    };
    toml::from_str(&text).map(Some).map_err(|e| {
        let at = e
            .span()
            .map(|s| {
                let line = text[..s.start].matches('\n').count() + 1;
                let column = s.start - text[..s.start].rfind('\n').map_or(0, |i| i + 1) + 1;
                format!(":{line}:{column}")
            })
            .unwrap_or_default();
        format!("kennel.toml{at}: {}", e.message())
    })
}

/// The paths in `kennel.toml` (`paths = ["tests/kennel"]`), else `tests/`.
fn default_paths() -> Result<Vec<PathBuf>, String> {
    let config = project_config()?.unwrap_or_default();
    if config.paths.is_empty() {
        Ok(vec![PathBuf::from("tests")])
    } else {
        Ok(config.paths)
    }
}

/// `K/N` with 1 <= K <= N.
fn parse_shard(spec: &str) -> Result<(usize, usize), String> {
    let bad = || format!("--shard {spec}: expected K/N with 1 <= K <= N, e.g. 2/4");
    let (k, n) = spec.split_once('/').ok_or_else(bad)?;
    let k: usize = k.trim().parse().map_err(|_| bad())?;
    let n: usize = n.trim().parse().map_err(|_| bad())?;
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

fn run(a: RunArgs) -> i32 {
    let selected = match select(&a.selection) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kennel: {e}");
            return exit::USAGE;
        }
    };
    execute(selected, &a)
}

/// Run a selection with the options of `a`, print, write results, and say how it went.
fn execute(selected: Selected, a: &RunArgs) -> i32 {
    for f in &selected.discovery.failures {
        eprintln!("kennel: error: {}", f.message);
    }
    let runnable = selected
        .planned
        .iter()
        .filter(|p| !matches!(p.what, Planned::Invalid(_)))
        .count();
    if runnable == 0 {
        if selected.planned.is_empty() {
            eprintln!("kennel: no tests found or selected");
        } else {
            for p in &selected.planned {
                if let Planned::Invalid(f) = &p.what {
                    if !selected.discovery.failures.iter().any(|d| d.path == f.path) {
                        eprintln!("kennel: error: {}", f.message);
                    }
                }
            }
            eprintln!("kennel: nothing could run");
        }
        return exit::USAGE;
    }
    if a.timeout_factor.is_nan() || a.timeout_factor <= 0.0 {
        eprintln!("kennel: --timeout-factor must be positive");
        return exit::USAGE;
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("kennel: cannot find my own executable: {e}");
            return exit::USAGE;
        }
    };
    let job_timeout = match a
        .job_timeout
        .as_deref()
        .map(kennel_spec::parse_duration)
        .transpose()
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!("kennel: --job-timeout: {e}");
            return exit::USAGE;
        }
    };
    let opts = JobOptions {
        jobs: a.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }),
        overrides: selected.overrides.clone(),
        timeout_factor: a.timeout_factor,
        results_dir: a.results_dir.clone(),
        qemu: a.qemu.clone(),
        retries: a.retries,
        fail_fast: a.fail_fast,
        exe,
        job_id: kennel_runner::new_job_id(),
        job_timeout,
        memory_mib: a.memory,
        assets: asset_policy(&a.assets),
    };
    let options = serde_json::json!({
        "paths": if a.selection.paths.is_empty() { vec![PathBuf::from("tests")] } else { a.selection.paths.clone() },
        "params": Value::Object(selected.overrides.clone().into_iter().collect()),
        "tags": a.selection.tags,
        "shard": a.selection.shard,
        "qemu": a.qemu,
        "timeout_factor": a.timeout_factor,
    });
    let mut results = ResultsDir::new().with_options(options);
    let mut screen: Box<dyn Reporter> = match a.format {
        Format::Human if std::io::stdout().is_terminal() && std::io::stderr().is_terminal() => {
            Box::new(LiveTerminal::new())
        }
        Format::Human => Box::new(Terminal::new(std::io::stdout(), false)),

        Format::Json => Box::new(JsonEvents::new(std::io::stdout())),
    };
    let mut on_event = |e: &RunEvent| {
        results.report(e);
        screen.report(e);
    };
    let report = match kennel_runner::run_job(&selected.planned, &opts, &mut on_event) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kennel: {e}");
            return exit::USAGE;
        }
    };
    for e in results.errors() {
        eprintln!("kennel: cannot write {e}");
    }
    if report.interrupted {
        exit::INTERRUPTED
    } else if report.summary.ok() {
        exit::OK
    } else {
        exit::TESTS_FAILED
    }
}

fn list(a: ListArgs) -> i32 {
    let selected = match select(&a.selection) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kennel: {e}");
            return exit::USAGE;
        }
    };
    let mut invalid = false;
    let mut rows = Vec::new();
    for p in &selected.planned {
        match &p.what {
            Planned::Case { case, .. } => {
                let skip = kennel_runner::interpret::skip_reason(
                    &case.file,
                    &case.params,
                    a.qemu.as_deref(),
                );
                if a.json {
                    rows.push(serde_json::json!({
                        "name": case.name,
                        "file": case.file.path,
                        "variant": case.variant,
                        "tags": case.file.tags,
                        "timeout_s": case.file.timeout.as_secs_f64(),
                        "skip": skip,
                    }));
                } else {
                    let tags = if case.file.tags.is_empty() {
                        String::new()
                    } else {
                        format!("  [{}]", case.file.tags.join(", "))
                    };
                    let skip = skip.map(|s| format!("  SKIP: {s}")).unwrap_or_default();
                    println!("{}  ({}){tags}{skip}", case.name, case.file.path.display());
                }
            }
            Planned::CargoTest(t) => {
                if a.json {
                    rows.push(
                        serde_json::json!({"name": p.name(), "file": t.binary, "kind": "cargo"}),
                    );
                } else {
                    println!("{}  (Rust test in {})", p.name(), t.binary.display());
                }
            }
            Planned::Executable { path } => {
                if a.json {
                    rows.push(
                        serde_json::json!({"name": p.name(), "file": path, "kind": "executable"}),
                    );
                } else {
                    println!(
                        "{}  (executable; TAP test points are listed when it runs)",
                        path.display()
                    );
                }
            }
            Planned::Invalid(f) => {
                invalid = true;
                eprintln!("kennel: error: {}", f.message);
            }
        }
    }
    if a.json {
        println!("{}", Value::Array(rows));
    }
    if invalid {
        exit::USAGE
    } else {
        exit::OK
    }
}

fn replay(a: ReplayArgs) -> i32 {
    let dir = a
        .job
        .clone()
        .unwrap_or_else(|| a.results_dir.join("latest"));
    let job = match ResultsFile::load(&dir) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("kennel: {}", kennel_runner::error_chain(&e));
            return exit::USAGE;
        }
    };
    let wanted: Vec<&kennel_runner::TestResult> = job
        .tests
        .iter()
        .filter(|t| !a.failed || !t.status.is_ok())
        .collect();
    if wanted.is_empty() {
        println!("kennel: nothing to replay in {}", dir.display());
        return exit::OK;
    }
    let mut files: Vec<PathBuf> = Vec::new();
    for t in &wanted {
        if !files.contains(&t.file) {
            files.push(t.file.clone());
        }
    }
    let params: Vec<String> = job
        .options
        .get("params")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", kennel_spec::value_text(v)))
                .collect()
        })
        .unwrap_or_default();
    let selection = Selection {
        paths: files,
        tags: Vec::new(),
        params,
        shard: None,
        cargo: false,
        packages: Vec::new(),
    };
    let mut selected = match select(&selection) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kennel: {e}");
            return exit::USAGE;
        }
    };
    // Keep the cases the job had (by name); an executable stays when any of its results is wanted.
    let names: std::collections::HashSet<&str> = wanted.iter().map(|t| t.name.as_str()).collect();
    selected.planned.retain(|p| match &p.what {
        Planned::Case { case, .. } => names.contains(case.name.as_str()),
        Planned::Executable { path } => wanted.iter().any(|t| &t.file == path),
        Planned::CargoTest(_) => names.contains(p.name().as_str()),
        Planned::Invalid(_) => true,
    });
    let selected = Selected {
        planned: kennel_runner::shard(selected.planned, 1, 1),
        ..selected
    };
    let qemu = a.qemu.clone().or_else(|| {
        job.options
            .get("qemu")
            .and_then(Value::as_str)
            .map(PathBuf::from)
    });
    let timeout_factor = job
        .options
        .get("timeout_factor")
        .and_then(Value::as_f64)
        .unwrap_or(1.0);
    println!(
        "kennel: replaying {} of {} tests from job {}",
        selected.planned.len(),
        job.tests.len(),
        job.job_id
    );
    let run_args = RunArgs {
        selection,
        jobs: a.jobs,
        timeout_factor,
        results_dir: a.results_dir.clone(),
        qemu,
        retries: a.retries,
        fail_fast: false,
        job_timeout: None,
        memory: None,
        assets: AssetFlags {
            offline: false,
            require_assets: false,
            allow_unverified: false,
        },
        format: a.format,
    };
    execute(selected, &run_args)
}

fn report(a: ReportArgs) -> i32 {
    if let Some(ReportAction::Merge { dirs, results_dir }) = a.action {
        return match kennel_report::merge(&dirs, &results_dir) {
            Ok(job) => {
                println!(
                    "kennel: merged {} job folders into {}",
                    dirs.len(),
                    job.display()
                );
                match ResultsFile::read(&job) {
                    Ok(f) if f.summary.ok() => exit::OK,
                    Ok(_) => exit::TESTS_FAILED,
                    Err(_) => exit::OK,
                }
            }
            Err(e) => {
                eprintln!("kennel: {}", kennel_runner::error_chain(&e));
                exit::USAGE
            }
        };
    }
    let dir = a.job.unwrap_or_else(|| a.results_dir.join("latest"));
    let file = match ResultsFile::load(&dir) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("kennel: {}", kennel_runner::error_chain(&e));
            return exit::USAGE;
        }
    };
    print!("{}", kennel_report::summary_text(&file));
    if file.summary.ok() {
        exit::OK
    } else {
        exit::TESTS_FAILED
    }
}

fn asset_policy(f: &AssetFlags) -> kennel_runner::interpret::AssetPolicy {
    let no_download = std::env::var("KENNEL_NO_DOWNLOAD").is_ok_and(|v| !v.is_empty() && v != "0");
    kennel_runner::interpret::AssetPolicy {
        offline: f.offline || no_download,
        require: f.require_assets,
        allow_unverified: f.allow_unverified,
    }
}

fn assets(a: AssetsCommand) -> i32 {
    let cache = match kennel_assets::Cache::default_dir() {
        Ok(d) => kennel_assets::Cache::new(d),
        Err(e) => {
            eprintln!("kennel: {}", kennel_runner::error_chain(&e));
            return exit::USAGE;
        }
    };
    match a {
        AssetsCommand::Fetch {
            paths,
            allow_unverified,
        } => assets_fetch(&cache, paths, allow_unverified),
        AssetsCommand::List => match cache.list() {
            Ok(entries) => {
                let mut total = 0;
                for e in &entries {
                    total += e.size;
                    println!(
                        "{:>10}  {}  {}",
                        human_bytes(e.size),
                        e.name.as_deref().unwrap_or("-"),
                        e.url
                            .as_deref()
                            .map(str::to_string)
                            .unwrap_or_else(|| e.path.display().to_string())
                    );
                }
                println!(
                    "{} entries, {} in {}",
                    entries.len(),
                    human_bytes(total),
                    cache.assets_dir().display()
                );
                exit::OK
            }
            Err(e) => {
                eprintln!("kennel: {}", kennel_runner::error_chain(&e));
                exit::TESTS_FAILED
            }
        },
        AssetsCommand::Purge {
            older_than,
            max_size,
            all,
        } => {
            let rule = if all {
                kennel_assets::PurgeRule::everything()
            } else {
                let older_than = match older_than
                    .as_deref()
                    .map(kennel_spec::parse_duration)
                    .transpose()
                {
                    Ok(d) => d,
                    Err(e) => {
                        eprintln!("kennel: --older-than: {e}");
                        return exit::USAGE;
                    }
                };
                if older_than.is_none() && max_size.is_none() {
                    eprintln!("kennel: say what to purge: --older-than, --max-size or --all");
                    return exit::USAGE;
                }
                kennel_assets::PurgeRule {
                    older_than,
                    max_total_size: max_size.map(|m| m * 1024 * 1024),
                }
            };
            match cache.purge(&rule) {
                Ok(r) => {
                    println!(
                        "kennel: removed {} entries, freed {}{}",
                        r.removed.len(),
                        human_bytes(r.freed),
                        if r.busy.is_empty() {
                            String::new()
                        } else {
                            format!("; {} in use were kept", r.busy.len())
                        }
                    );
                    exit::OK
                }
                Err(e) => {
                    eprintln!("kennel: {}", kennel_runner::error_chain(&e));
                    exit::TESTS_FAILED
                }
            }
        }
    }
}

/// Fetch every declared asset of the tests under `paths`, a few at a time.
fn assets_fetch(cache: &kennel_assets::Cache, paths: Vec<PathBuf>, allow_unverified: bool) -> i32 {
    let paths = if paths.is_empty() {
        vec![PathBuf::from("tests")]
    } else {
        paths
    };
    let discovery = match kennel_runner::discover(&paths) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("kennel: {e}");
            return exit::USAGE;
        }
    };
    for f in &discovery.failures {
        eprintln!("kennel: error: {}", f.message);
    }
    let mut wanted = Vec::new();
    let mut unresolved = 0;
    for file in &discovery.files {
        for (name, spec) in &file.assets {
            let kennel_spec::AssetSource::Cloud(image) = &spec.source else {
                wanted.push((
                    file.path.clone(),
                    file.dir.clone(),
                    name.clone(),
                    spec.clone(),
                ));
                continue;
            };
            // A cloud image: resolve it for each variant (each may name another image).
            let shared = std::sync::Arc::new(file.clone());
            let mut seen = std::collections::BTreeSet::new();
            for case in shared.cases(&indexmap::IndexMap::new()) {
                let Ok(text) = image.render(&case.params) else {
                    continue;
                };
                if !seen.insert(text.clone()) {
                    continue;
                }
                match kennel_vm::cloud::resolve_cloud_asset(spec, &text, false) {
                    Ok(resolved) => wanted.push((
                        file.path.clone(),
                        file.dir.clone(),
                        format!("{name} ({text})"),
                        resolved,
                    )),
                    Err(e) => {
                        unresolved += 1;
                        println!(" FAILED {name} ({}): {e}", file.path.display());
                    }
                }
            }
        }
    }
    if wanted.is_empty() && unresolved == 0 {
        println!("kennel: the tests declare no assets");
        return exit::OK;
    }
    let policy = kennel_assets::FetchPolicy {
        offline: false,
        allow_unverified,
    };
    // On a terminal, a progress bar per download in flight.
    let bars = std::io::stderr()
        .is_terminal()
        .then(indicatif::MultiProgress::new);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::atomic::AtomicUsize::new(0);
    let workers = wanted.len().min(4);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some((file, dir, name, spec)) = wanted.get(i) else {
                    break;
                };
                let started = std::time::Instant::now();
                let bar = bars.as_ref().map(|m| {
                    let b = m.add(indicatif::ProgressBar::new(0));
                    b.set_style(
                        indicatif::ProgressStyle::with_template(
                            "{msg:20} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                        )
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                    b.set_message(name.clone());
                    b
                });
                let mut progress = |e: &kennel_assets::FetchEvent<'_>| {
                    let Some(b) = &bar else { return };
                    match e {
                        kennel_assets::FetchEvent::Started { total, offset, .. } => {
                            b.set_length(total.unwrap_or(0));
                            b.set_position(*offset);
                        }
                        kennel_assets::FetchEvent::Progress { bytes, total, .. } => {
                            if let Some(t) = total {
                                b.set_length(*t);
                            }
                            b.set_position(*bytes);
                        }
                        _ => {}
                    }
                };
                let result = cache.resolve(spec, dir, &policy, &mut progress);
                if let Some(b) = &bar {
                    b.finish_and_clear();
                }
                match result {
                    Ok(path) => println!(
                        " ok     {name} ({}) -> {} in {:.1}s",
                        file.display(),
                        path.display(),
                        started.elapsed().as_secs_f64()
                    ),
                    Err(e) => {
                        failed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        println!(
                            " FAILED {name} ({}): {}",
                            file.display(),
                            kennel_runner::error_chain(&e)
                        );
                    }
                }
            });
        }
    });
    let failed = failed.into_inner() + unresolved;
    println!(
        "kennel: {} assets, {} failed",
        wanted.len() + unresolved,
        failed
    );
    if failed == 0 && discovery.failures.is_empty() {
        exit::OK
    } else {
        exit::TESTS_FAILED
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn guest(cmd: GuestCommand) -> i32 {
    let (shell, a): (bool, &GuestArgs) = match &cmd {
        GuestCommand::Build(a) => (false, a),
        GuestCommand::Shell(a) => (true, a),
    };
    let arch = a
        .arch
        .clone()
        .unwrap_or_else(|| kennel_machine::host_arch().to_string());
    let started = std::time::Instant::now();
    let (image, agent) = match kennel_vm::guest::build(&arch, a.kernel.as_deref()) {
        Ok(g) => (g.image, g.agent),
        Err(
            kennel_vm::guest::GuestProblem::Missing(why)
            | kennel_vm::guest::GuestProblem::Failed(why),
        ) => {
            eprintln!("kennel: {why}");
            return exit::TESTS_FAILED;
        }
    };
    if !shell {
        println!("arch     {}", image.arch.name());
        println!(
            "kernel   {} ({}{})",
            image.kernel.display(),
            image.kernel_release,
            if image.pvh { ", PVH" } else { "" }
        );
        println!("initrd   {}", image.initrd.display());
        println!("append   {}", image.append);
        println!(
            "agent    {}",
            if agent { "yes" } else { "no (console only)" }
        );
        println!(
            "{} in {} ms",
            if image.from_cache {
                "from the cache"
            } else {
                "built"
            },
            started.elapsed().as_millis()
        );
        return exit::OK;
    }
    let binary = match kennel_machine::find_qemu(&arch, None, a.qemu.as_deref()) {
        Ok(b) => b.path,
        Err(e) => {
            eprintln!("kennel: {e}");
            return exit::TESTS_FAILED;
        }
    };
    let mut args: Vec<String> = vec![
        "-machine".into(),
        image.arch.default_machine().into(),
        "-accel".into(),
        kennel_machine::choose_accel(&arch, &binary),
        "-smp".into(),
        a.cpus.to_string(),
        "-m".into(),
        a.memory.clone(),
        "-nodefaults".into(),
        "-no-reboot".into(),
        "-display".into(),
        "none".into(),
        "-serial".into(),
        "mon:stdio".into(),
    ];
    if image.arch == kennel_guest::Arch::Aarch64 {
        args.extend(["-cpu".into(), "cortex-a57".into()]);
    }
    args.extend(
        image
            .qemu_args()
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned()),
    );
    eprintln!("kennel: {} {}", binary.display(), args.join(" "));
    eprintln!("kennel: the guest's shell is on this terminal; `poweroff -f` or Ctrl-A X ends it");
    use std::os::unix::process::CommandExt;
    let err = std::process::Command::new(&binary).args(&args).exec();
    eprintln!("kennel: cannot start {}: {err}", binary.display());
    exit::TESTS_FAILED
}

fn doctor(a: DoctorArgs) -> i32 {
    let mut fixes: Vec<String> = Vec::new();
    println!("QEMU binaries:");
    let mut host_binary = None;
    for arch in ["x86_64", "aarch64", "ppc64"] {
        match kennel_machine::find_qemu(arch, None, a.qemu.as_deref()) {
            Ok(b) => {
                let info = kennel_runner::interpret::QemuInfo::of(&b.path);
                let ver = info
                    .version
                    .map(|(x, y, z)| format!("{x}.{y}.{z}"))
                    .unwrap_or_else(|| "version unknown".into());
                println!(
                    "  {arch:<8} {} (QEMU {ver}, via {})",
                    b.path.display(),
                    b.source
                );
                if arch == kennel_machine::host_arch() {
                    host_binary = Some(b.path);
                }
            }
            Err(e) => {
                println!("  {arch:<8} missing: {e}");
                fixes.push(format!(
                    "apt-get install {}",
                    match arch {
                        "x86_64" => "qemu-system-x86",
                        "aarch64" => "qemu-system-arm",
                        _ => "qemu-system-ppc",
                    }
                ));
            }
        }
    }
    println!("Accelerator:");
    match host_binary {
        Some(b) => match kennel_machine::probe_kvm(&b) {
            Ok(p) if p.usable => println!("  KVM usable: {}", p.detail),
            Ok(p) => println!("  KVM not usable ({}); tests run under TCG", p.detail),
            Err(e) => println!("  KVM probe failed: {e}; tests run under TCG"),
        },
        None => println!("  no QEMU for the host architecture, KVM not probed"),
    }
    println!("Guest pieces:");
    let kernels: Vec<PathBuf> = std::fs::read_dir("/boot")
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
                })
                .collect()
        })
        .unwrap_or_default();
    match kernels.first() {
        Some(k) => println!("  kernel   {}", k.display()),
        None => {
            println!("  kernel   missing: no /boot/vmlinuz-*");
            fixes.push("apt-get install linux-image-amd64".into());
        }
    }
    match ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .find(|p| std::path::Path::new(p).exists())
    {
        Some(b) => println!("  busybox  {b}"),
        None => {
            println!("  busybox  missing");
            fixes.push("apt-get install busybox-static".into());
        }
    }
    // Cloud images: not needed by the examples, so no fix is demanded.
    println!("Cloud images:");
    let qemu_img = kennel_cloud::find_qemu_img(None);
    match std::process::Command::new(&qemu_img)
        .arg("--version")
        .output()
    {
        Ok(out) if out.status.success() => println!(
            "  qemu-img {}",
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .unwrap_or("")
        ),
        _ => println!("  qemu-img missing (apt-get install qemu-utils): `image` tests will ERROR"),
    }
    match std::env::var(kennel_cloud::MIRROR_ENV) {
        Ok(m) if !m.is_empty() => println!("  provider mirror {m} ({})", kennel_cloud::MIRROR_ENV),
        _ => println!(
            "  provider: the distributions' own sites ({} unset)",
            kennel_cloud::MIRROR_ENV
        ),
    }
    if fixes.is_empty() {
        println!("Everything kennel's examples need is here.");
        exit::OK
    } else {
        println!("To fix (as root):");
        for f in fixes {
            println!("  {f}");
        }
        exit::TESTS_FAILED
    }
}

fn run_test(a: RunTestArgs) -> i32 {
    let overrides: IndexMap<String, Value> =
        match serde_json::from_str::<serde_json::Map<String, Value>>(&a.params_json) {
            Ok(m) => m.into_iter().collect(),
            Err(e) => {
                eprintln!("kennel __run-test: bad --params-json: {e}");
                return exit::USAGE;
            }
        };
    let args = kennel_runner::child::ChildArgs {
        file: a.file,
        case_index: a.case_index,
        overrides,
        logdir: a.logdir,
        timeout: Duration::from_millis(a.timeout_ms),
        qemu: a.qemu,
        assets: asset_policy(&a.assets),
    };
    kennel_runner::child::run_child(&args)
}
