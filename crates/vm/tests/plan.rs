//! What `prepare` decides before anything starts: the plan is inspectable and
//! needs no QEMU.

use kennel_machine::{LogSink, MachineConfig};
use kennel_vm::{prepare, BuiltinGuest, ChannelKind, MachineDesc, TestLog, VmError, Workspace};

fn workspace(dir: &std::path::Path) -> Workspace {
    Workspace {
        scratch: dir.to_path_buf(),
        logdir: dir.to_path_buf(),
        log: TestLog::discard(),
        cmdline: LogSink::discard(),
        several: false,
        warm_cache: None,
    }
}

#[test]
fn a_machine_without_guest_or_image_is_planned_as_described() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = MachineConfig::new("main");
    config.machine_type = Some("none".into());
    config.extra_args = vec!["-S".into()];

    let plan = prepare(MachineDesc::new(config), &workspace(dir.path())).expect("plan");

    assert!(plan.guest.is_none());
    assert!(plan.cloud.is_none());
    assert!(plan.key.is_none());
    assert_eq!(plan.config.extra_args, ["-S"]);
    assert!(!plan.config.console);
}

#[test]
fn the_agent_channel_without_the_built_in_guest_is_refused_before_launch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut desc = MachineDesc::new(MachineConfig::new("main"));
    desc.channel = Some(ChannelKind::Agent);

    let refused = prepare(desc, &workspace(dir.path()));

    match refused {
        Err(VmError::Prepare { machine, source }) => {
            let why = source.to_string();
            assert_eq!(machine, "main");
            assert!(why.contains("guest = \"busybox\""), "{why}");
        }
        Err(other) => panic!("expected a Prepare error, got {other}"),
        Ok(_) => panic!("expected a Prepare error, got a plan"),
    }
}

#[test]
fn the_built_in_guest_is_wired_into_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut desc = MachineDesc::new(MachineConfig::new("main"));
    desc.guest = Some(BuiltinGuest::Busybox);
    desc.config.append = Some("loglevel=3".into());

    let plan = prepare(desc, &workspace(dir.path())).expect("the host kernel and busybox");

    let guest = plan.guest.as_ref().expect("guest");
    assert_eq!(plan.config.kernel.as_ref(), Some(&guest.image.kernel));
    assert_eq!(plan.config.initrd.as_ref(), Some(&guest.image.initrd));
    let append = plan.config.append.as_deref().unwrap_or_default();
    assert!(append.starts_with(&guest.image.append), "{append}");
    assert!(append.ends_with("loglevel=3"), "{append}");
    assert!(plan.config.console);
    assert!(plan.config.extra_args.iter().any(|a| a == "-no-reboot"));
    if guest.agent {
        assert!(plan
            .config
            .extra_args
            .iter()
            .any(|a| a.contains("name=org.kennel.agent")));
    }
}
