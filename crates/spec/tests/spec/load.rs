use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use kennel_spec::{
    load_file, load_str, load_test, AssetHash, AssetSource, AssetSpec, DescCheck, ExitExpect,
    MachineSpec, QmpExpect, Requires, RequiresSpec, SpecError, Step, StepKind, Templ, Template,
    TestFile, TextCheck, VersionReq,
};
use serde_json::json;

use crate::{load, PATH};

fn t(s: &str) -> Template {
    Template::parse(s).expect("template")
}

fn machine(name: &str, line: usize) -> MachineSpec {
    MachineSpec {
        name: name.to_owned(),
        line,
        arch: None,
        binary: None,
        machine_type: None,
        accel: None,
        cpus: None,
        memory: None,
        kernel: None,
        initrd: None,
        append: None,
        dtb: None,
        guest: None,
        image: None,
        cloud_init: None,
        channel: None,
        display: None,
        firmware: None,
        tpm: None,
        console: None,
        console_fail: None,
        args: Vec::new(),
        incoming: None,
        launch: true,
        warm: true,
        tablet: false,
        expect_exit: None,
        networks: Vec::new(),
        nic_model: None,
    }
}

const CONTRACT_EXAMPLE: &str = r#"name = "set-numa-node is refused outside preconfig"
tags = ["quick", "numa"]

[machine]
type = "none"
args = ["-nodefaults", "-S"]

[[step]]
qmp = "set-numa-node"
args = { type = "node" }
error = { class = "GenericError", desc = "The command is permitted only before the machine has been created" }

[[step]]
running = true

[[step]]
shutdown = { code = 0 }
"#;

#[test]
fn contract_example_loads_to_the_expected_model() {
    let test = load(CONTRACT_EXAMPLE);

    let step = |line, kind| Step {
        line,
        on: "main".to_owned(),
        timeout: None,
        poll: false,
        save: Vec::new(),
        kind,
    };
    let expected = TestFile {
        path: PathBuf::from(PATH),
        dir: std::path::absolute("tests/qmp").expect("absolute"),
        name: "set-numa-node is refused outside preconfig".to_owned(),
        description: None,
        tags: vec!["quick".to_owned(), "numa".to_owned()],
        covers: Vec::new(),
        timeout: Duration::from_secs(120),
        retries: 0,
        exclusive: false,
        requires: RequiresSpec::default(),
        networks: Vec::new(),
        machines: vec![MachineSpec {
            machine_type: Some(t("none")),
            args: vec![t("-nodefaults"), t("-S")],
            ..machine("main", 4)
        }],
        steps: vec![
            step(
                8,
                StepKind::Qmp {
                    command: t("set-numa-node"),
                    args: Some(json!({ "type": "node" })),
                    expect: QmpExpect::Error {
                        class: Some(t("GenericError")),
                        desc: Some(DescCheck::Exact(t(
                            "The command is permitted only before the machine has been created",
                        ))),
                    },
                },
            ),
            step(13, StepKind::Running(true)),
            step(
                16,
                StepKind::Shutdown {
                    code: Some(Templ::Lit(0)),
                },
            ),
        ],
        variants: IndexMap::new(),
        assets: IndexMap::new(),
        typed: Vec::new(),
        source: None,
    };
    assert_eq!(test, expected);
    let described: Vec<String> = test.steps.iter().map(Step::describe).collect();
    assert_eq!(
        described,
        ["qmp set-numa-node", "running = true", "shutdown"]
    );
    assert_eq!(test.steps[0].kind_name(), "qmp");
}

#[test]
fn warm_false_keeps_a_machine_booting_every_time() {
    let test = load(
        r#"name = "boots"
[machine]
guest = "busybox"
warm = false
[[step]]
run = "true"
"#,
    );

    assert!(!test.machines[0].warm);
}

#[test]
fn a_toml_file_without_steps_or_machines_is_not_a_test() {
    let loaded = load_str(Path::new("kennel.toml"), "paths = [\"tests\"]\njobs = 4\n");

    assert!(matches!(loaded, Ok(None)));
}

#[test]
fn a_file_named_explicitly_must_be_a_test() {
    let dir = std::env::temp_dir().join(format!("kennel-spec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("kennel.toml");
    std::fs::write(&path, "jobs = 4\n").expect("write");

    let err = load_test(&path).expect_err("not a test");

    assert_eq!(
        err.to_string(),
        format!(
            "{}:1:1: not a test: no `[[step]]`, `[machine]` or `[machines.<name>]` table",
            path.display()
        )
    );
    assert!(matches!(load_file(&path), Ok(None)));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let err = load_file(Path::new("/nonexistent/x.toml")).expect_err("missing");

    assert!(matches!(err, SpecError::Io { .. }));
    assert_eq!(err.to_string(), "cannot read /nonexistent/x.toml");
}

#[test]
fn a_machine_alone_is_a_test() {
    let test = load("[machine]\nargs = [\"-cpu\", \"help\"]\nexpect_exit = { code = 0, stdout_regex = \"^Available\", timeout = \"10s\" }\n");

    assert!(test.steps.is_empty());
    assert_eq!(
        test.machines[0].expect_exit,
        Some(ExitExpect {
            code: Some(Templ::Lit(0)),
            stdout: Some(TextCheck::Regex(t("^Available"))),
            stderr: None,
            output: None,
            timeout: Some(Duration::from_secs(10)),
        })
    );
}

#[test]
fn top_level_keys_and_requires_load() {
    let test = load(
        r#"name = "n"
description = "d"
timeout = "1m30s"
retries = 2

[requires]
arch = ["x86_64", "aarch64"]
machines = ["q35"]
devices = ["virtio-net-pci"]
netdevs = ["user"]
accel = "kvm"
commands = ["qemu-img"]
qemu_version = ">=7.2"

[machine]
"#,
    );

    assert_eq!(test.description.as_deref(), Some("d"));
    assert_eq!(test.timeout, Duration::from_secs(90));
    assert_eq!(test.retries, 2);
    assert_eq!(
        test.requires.render(&IndexMap::new()).expect("renders"),
        Requires {
            arch: vec!["x86_64".to_owned(), "aarch64".to_owned()],
            machines: vec!["q35".to_owned()],
            devices: vec!["virtio-net-pci".to_owned()],
            netdevs: vec!["user".to_owned()],
            accel: Some("kvm".to_owned()),
            commands: vec!["qemu-img".to_owned()],
            qemu_version: Some(VersionReq::parse(">=7.2").expect("req")),
        }
    );
}

#[test]
fn every_machine_key_loads() {
    let test = load(
        r##"
[machine]
arch = "x86_64"
binary = "/opt/qemu/bin/qemu-system-x86_64"
type = "q35"
accel = "tcg"
cpus = 2
memory = "512M"
kernel = "${guest_kernel}"
initrd = "${guest_initrd}"
append = "console=ttyS0"
dtb = "${dir}/x.dtb"
guest = "busybox"
image = "${asset:disk}"
cloud_init = { user_data = "#cloud-config" }
channel = "ssh"
display = "std"
console = true
console_fail = []
args = ["-S"]
incoming = "defer"
launch = false

[assets.disk]
url = "https://example.com/disk.qcow2"
sha256 = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
uncompress = true
extract = "disk.img"
"##,
    );

    let expected = MachineSpec {
        arch: Some(Templ::Lit("x86_64".to_owned())),
        binary: Some(t("/opt/qemu/bin/qemu-system-x86_64")),
        machine_type: Some(t("q35")),
        accel: Some(Templ::Lit("tcg".to_owned())),
        cpus: Some(Templ::Lit(2)),
        memory: Some(t("512M")),
        kernel: Some(t("${guest_kernel}")),
        initrd: Some(t("${guest_initrd}")),
        append: Some(t("console=ttyS0")),
        dtb: Some(t("${dir}/x.dtb")),
        guest: Some(t("busybox")),
        image: Some(t("${asset:disk}")),
        cloud_init: Some(json!({ "user_data": "#cloud-config" })),
        channel: Some("ssh".to_owned()),
        display: Some("std".to_owned()),
        console: Some(true),
        console_fail: Some(Vec::new()),
        args: vec![t("-S")],
        incoming: Some(t("defer")),
        launch: false,
        ..machine("main", 2)
    };
    assert_eq!(test.machines, [expected]);
    assert_eq!(
        test.assets["disk"],
        AssetSpec {
            name: "disk".to_owned(),
            line: 24,
            source: AssetSource::Url("https://example.com/disk.qcow2".to_owned()),
            hash: Some(AssetHash::Sha256(
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".to_owned()
            )),
            uncompress: true,
            extract: Some("disk.img".to_owned()),
        }
    );
    test.check_vars(&[]).expect("all references are defined");
}

#[test]
fn machine_defaults_follow_the_contract() {
    let test = load(
        "[machines.a]\nkernel = \"k\"\n[machines.b]\nguest = \"busybox\"\n[machines.c]\ncloud_init = true\n[machines.main]\n",
    );

    let consoles: Vec<bool> = test.machines.iter().map(|m| m.console_enabled()).collect();
    let channels: Vec<&str> = test
        .machines
        .iter()
        .map(|m| m.channel_or_default())
        .collect();
    assert_eq!(consoles, [true, true, false, false]);
    assert_eq!(channels, ["console", "agent", "ssh", "console"]);
}

#[test]
fn machines_keep_file_order_and_header_lines() {
    let test = load("[machines.src]\n\n[machines.dst]\nincoming = \"defer\"\n\n[[step]]\non = \"dst\"\nrunning = true\n");

    let machines: Vec<(&str, usize)> = test
        .machines
        .iter()
        .map(|m| (m.name.as_str(), m.line))
        .collect();
    assert_eq!(machines, [("src", 1), ("dst", 3)]);
    assert_eq!(test.steps[0].on, "dst");
}

#[test]
fn steps_default_to_main_among_several_machines() {
    let test = load("[machines.other]\n[machines.main]\n[[step]]\nkill = true\n");

    assert_eq!(test.steps[0].on, "main");
}

#[test]
fn step_lines_are_their_headers_even_with_comments_and_subtables() {
    let test = load(
        "# [[step]] in a comment\n[machine]\n\n  [[step]]  # indented\nqmp = \"x\"\n[step.args]\nid = \"a\"\n\n[[step]]\nsend = \"[[step]]\"\n",
    );

    let lines: Vec<usize> = test.steps.iter().map(|s| s.line).collect();
    assert_eq!(lines, [4, 9]);
    assert_eq!(
        test.steps[0].kind,
        StepKind::Qmp {
            command: t("x"),
            args: Some(json!({ "id": "a" })),
            expect: QmpExpect::Success
        }
    );
}

#[test]
fn every_step_kind_loads() {
    let test = load(
        r#"[machine]
guest = "busybox"

[[step]]
qmp = "query-cpus-fast"
returns = [{ props = { core-id = 0 } }]
save = { path = "/0/qom-path", all = "" }
poll = true
timeout = "5s"

[[step]]
qmp = "query-status"
returns_exact = { running = true, status = "running" }

[[step]]
qmp = "x"
error = { desc_regex = "^no" }

[[step]]
hmp = "info usernet"
contains = "a"
lacks = "b"
regex = "c+"

[[step]]
event = "STOP"
match = { data = { reason = "x" } }

[[step]]
console = "login:"

[[step]]
console_regex = "Linux version (?<v>\\S+)"

[[step]]
send = "root\n"

[[step]]
exec = "uname -r"
expect = "6."

[[step]]
run = "cat ${path}"
exit_code = 1
stdout = "x"
stdout_contains = "y"
stdout_regex = "z"
stderr_contains = "w"

[[step]]
output = { contains = "a", lacks_regex = "b|c" }

[[step]]
running = false

[[step]]
launch = true

[[step]]
exit = { code = 1, stderr = "bad", output_regex = "x" }

[[step]]
shutdown = {}

[[step]]
kill = true
"#,
    );

    let kinds: Vec<&str> = test.steps.iter().map(|s| s.kind_name()).collect();
    assert_eq!(
        kinds,
        [
            "qmp",
            "qmp",
            "qmp",
            "hmp",
            "event",
            "console",
            "console_regex",
            "send",
            "exec",
            "run",
            "output",
            "running",
            "launch",
            "exit",
            "shutdown",
            "kill"
        ]
    );
    let first = &test.steps[0];
    assert_eq!(
        (first.poll, first.timeout, &first.save),
        (
            true,
            Some(Duration::from_secs(5)),
            &vec![
                ("path".to_owned(), "/0/qom-path".to_owned()),
                ("all".to_owned(), String::new())
            ]
        )
    );
    assert_eq!(
        first.kind,
        StepKind::Qmp {
            command: t("query-cpus-fast"),
            args: None,
            expect: QmpExpect::Returns(json!([{ "props": { "core-id": 0 } }])),
        }
    );
    assert_eq!(
        test.steps[2].kind,
        StepKind::Qmp {
            command: t("x"),
            args: None,
            expect: QmpExpect::Error {
                class: None,
                desc: Some(DescCheck::Regex(t("^no")))
            },
        }
    );
    assert_eq!(
        test.steps[9].kind,
        StepKind::Run {
            command: t("cat ${path}"),
            exit_code: Some(Templ::Lit(1)),
            stdout: Some(t("x")),
            stdout_contains: Some(t("y")),
            stdout_regex: Some(t("z")),
            stderr_contains: Some(t("w")),
        }
    );
    assert_eq!(
        test.steps[10].kind,
        StepKind::Output {
            contains: Some(TextCheck::Contains(t("a"))),
            lacks: Some(TextCheck::Regex(t("b|c"))),
        }
    );
    assert_eq!(
        test.steps[13].kind,
        StepKind::Exit(ExitExpect {
            code: Some(Templ::Lit(1)),
            stderr: Some(TextCheck::Contains(t("bad"))),
            output: Some(TextCheck::Regex(t("x"))),
            ..ExitExpect::default()
        })
    );
    let described: Vec<String> = test.steps.iter().map(Step::describe).collect();
    assert_eq!(described[6], r#"console_regex "Linux version (?<v>\\S+)""#);
    assert_eq!(described[9], "run cat ${path}");
    test.check_vars(&[])
        .expect("`path` is saved by an earlier step");
}

#[test]
fn tags_feed_the_main_machine_unless_it_sets_them() {
    let test = load(
        "tags = [\"arch:aarch64\", \"machine:virt\", \"accel:tcg\", \"quick\"]\n[machine]\naccel = \"kvm\"\n",
    );

    let main = &test.machines[0];
    assert_eq!(main.arch, Some(Templ::Lit("aarch64".to_owned())));
    assert_eq!(main.machine_type, Some(t("virt")));
    assert_eq!(main.accel, Some(Templ::Lit("kvm".to_owned())));
}

#[test]
fn tags_feed_the_machine_named_main_among_several() {
    let test = load("tags = [\"arch:s390x\"]\n[machines.a]\n[machines.main]\n");

    let arches: Vec<Option<Templ<String>>> = test.machines.iter().map(|m| m.arch.clone()).collect();
    assert_eq!(arches, [None, Some(Templ::Lit("s390x".to_owned()))]);
}

#[test]
fn datetimes_become_strings() {
    let test = load("[machine]\n[[step]]\nqmp = \"x\"\nargs = { when = 1979-05-27T07:32:00Z }\n");

    assert_eq!(
        test.steps[0].kind,
        StepKind::Qmp {
            command: t("x"),
            args: Some(json!({ "when": "1979-05-27T07:32:00Z" })),
            expect: QmpExpect::Success,
        }
    );
}

#[test]
fn asset_paths_may_use_dir() {
    let sha512 = "ab".repeat(64);
    let test = load(&format!(
        "[machine]\nkernel = \"${{asset:k}}\"\n[assets.k]\npath = \"${{dir}}/bzImage\"\nsha512 = \"{sha512}\"\n"
    ));

    assert_eq!(
        test.assets["k"].source,
        AssetSource::Path(t("${dir}/bzImage"))
    );
    assert_eq!(test.assets["k"].hash, Some(AssetHash::Sha512(sha512)));
    test.check_vars(&[]).expect("defined");
}

#[test]
fn cloud_assets_name_a_distribution_image_and_may_use_variants() {
    let test = load(
        "[variants]\ndistro = [\"debian 12 amd64\", \"ubuntu 24.04 amd64\"]\n[machine]\nimage = \"${asset:img}\"\ncloud_init = true\n[assets.img]\ncloud = \"${distro}\"\n",
    );

    assert_eq!(
        test.assets["img"].source,
        AssetSource::Cloud(t("${distro}"))
    );
    assert_eq!(test.assets["img"].hash, None);
    test.check_vars(&[]).expect("defined");
}
