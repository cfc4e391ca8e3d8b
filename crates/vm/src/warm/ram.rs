//! A template's memory in a file of its own, mapped copy-on-write by every
//! restore. The template's QEMU runs with its RAM in `ram` (a
//! `memory-backend-file`, `share=on`, so the file holds the guest's memory)
//! and saves with the `x-ignore-shared` migration capability: the state holds
//! the devices only. A restore maps the same file `share=off` (private: the
//! guest's writes go to its own pages, the file is never written), waits with
//! `-incoming defer`, sets the capability and loads the state. Pages a guest
//! only reads stay shared, through the page cache, by every restore of the
//! template. Where that cannot work, the template keeps its memory in its
//! state, and restores load it through the stream.

use std::path::Path;
use std::time::Instant;

use kennel_machine::{MachineConfig, Qmp, Value};
use serde::{Deserialize, Serialize};

use super::template::WarmError;

/// The migration capability that leaves shared memory out of a saved state.
const IGNORE_SHARED: &str = "x-ignore-shared";

/// Devices that hand guest memory back to the host. QEMU (7.2 at least)
/// discards it with `fallocate(PUNCH_HOLE)` on a memory file even when the
/// mapping is private: the template's file would lose those pages.
const DISCARDING_DEVICES: &[&str] = &["virtio-balloon", "virtio-mem"];

/// Where a template's memory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Ram {
    /// In its own file, mapped copy-on-write by each restore.
    File,
    /// In the saved state, loaded through the migration stream.
    Stream,
}

/// The memory file a machine of `config` gets: its size and the id of the
/// machine's RAM, or why its memory stays in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    /// A memory file of `bytes`, the backend named `id` (the machine type's
    /// default RAM id, so a migration to a machine booted without the file
    /// still finds the RAM it expects).
    File {
        /// The memory's size.
        bytes: u64,
        /// The machine type's default RAM id.
        id: &'static str,
    },
    /// The memory stays in the stream, for this reason.
    Stream(String),
}

impl Plan {
    /// The key's line for it: what a template holds depends on it.
    pub fn key_value(&self) -> &'static str {
        match self {
            Plan::File { .. } => "file",
            Plan::Stream(_) => "stream",
        }
    }
}

/// How the template of a machine launched with `config` keeps its memory.
pub(crate) fn plan(config: &MachineConfig) -> Plan {
    if kennel_config::Config::get().is_ok_and(|c| c.warm_stream) {
        return Plan::Stream(format!("{} is set", kennel_config::env::WARM_STREAM));
    }
    if let Some(device) = config
        .extra_args
        .iter()
        .find(|a| DISCARDING_DEVICES.iter().any(|d| a.contains(d)))
    {
        return Plan::Stream(format!(
            "its arguments give it `{device}`, whose discarded memory QEMU 7.2 punches out of \
             the memory file itself"
        ));
    }
    let machine = config.machine_type.as_deref().unwrap_or("");
    let Some(id) = default_ram_id(&config.target_arch(), machine) else {
        return Plan::Stream(format!(
            "kennel does not know the RAM id of machine type `{machine}`"
        ));
    };
    match config.memory.as_deref().and_then(memory_bytes) {
        Some(bytes) => Plan::File { bytes, id },
        None => Plan::Stream(format!(
            "the memory size `{}` is not a plain size",
            config.memory.as_deref().unwrap_or("(QEMU's default)")
        )),
    }
}

/// Why the filesystem of `dir` cannot hold a memory file of `bytes`, or `None`
/// when it can: the guest may touch any page, and a page that finds its
/// filesystem full kills QEMU with SIGBUS in the middle of the template's boot.
/// The stream's state is written after the boot, where a full filesystem is an
/// error kennel reads (and the machine boots cold).
pub(crate) fn no_room(dir: &Path, bytes: u64) -> Option<String> {
    let stat = rustix::fs::statvfs(dir).ok()?;
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    (free < bytes).then(|| {
        format!(
            "the warm cache's filesystem has {} free, less than the guest's memory ({})",
            kennel_config::human_bytes(free),
            kennel_config::human_bytes(bytes)
        )
    })
}

/// The machine type's default RAM id (`query-machines`' `default-ram-id`),
/// for the machine types the built-in guest and cloud guests use.
fn default_ram_id(arch: &str, machine: &str) -> Option<&'static str> {
    let machine = machine.split(',').next().unwrap_or("");
    match arch {
        "x86_64" | "i386"
            if machine == "pc"
                || machine == "q35"
                || machine.starts_with("pc-i440fx-")
                || machine.starts_with("pc-q35-") =>
        {
            Some("pc.ram")
        }
        "aarch64" if machine == "virt" || machine.starts_with("virt-") => Some("mach-virt.ram"),
        "ppc64" if machine == "pseries" || machine.starts_with("pseries-") => Some("ppc_spapr.ram"),
        _ => None,
    }
}

/// The bytes of a `-m` value: digits (MiB) or digits with a `K`, `M`, `G`
/// or `T` suffix; `None` for anything else (`size=...,maxmem=...`).
fn memory_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<u64>().ok()?.checked_mul(1 << 20);
    }
    kennel_config::parse_size(text).filter(|&n| n > 0)
}

/// QEMU's arguments putting the machine's RAM (`bytes`, backend `id`) in
/// `path`: shared (the template writes the file) or private (a restore's
/// writes stay its own).
pub(crate) fn backend_args(path: &Path, bytes: u64, id: &str, share: bool) -> [String; 4] {
    // A comma in an option value is written twice.
    let path = path.to_string_lossy().replace(',', ",,");
    let share = if share { "on" } else { "off" };
    [
        "-object".into(),
        format!("memory-backend-file,id={id},mem-path={path},size={bytes},share={share}"),
        "-machine".into(),
        format!("memory-backend={id}"),
    ]
}

/// Whether the QEMU behind `qmp` can leave shared memory out of a saved
/// state (QEMU 4.0 and later have `x-ignore-shared`).
pub(crate) fn can_ignore_shared(qmp: &Qmp, deadline: Instant) -> Result<bool, WarmError> {
    let caps = qmp
        .execute("query-migrate-capabilities", None, deadline)
        .map_err(|source| WarmError::QmpCommand {
            command: "query-migrate-capabilities",
            source: Box::new(source),
        })?;
    Ok(caps.as_array().is_some_and(|all| {
        all.iter()
            .any(|c| c.get("capability").and_then(Value::as_str) == Some(IGNORE_SHARED))
    }))
}

/// Turn `x-ignore-shared` on or off for the next migration of `qmp`'s QEMU.
pub(crate) fn ignore_shared(qmp: &Qmp, on: bool, deadline: Instant) -> Result<(), WarmError> {
    let caps = serde_json::json!({
        "capabilities": [{ "capability": IGNORE_SHARED, "state": on }]
    });
    qmp.execute("migrate-set-capabilities", Some(&caps), deadline)
        .map(drop)
        .map_err(|source| WarmError::QmpCommand {
            command: "migrate-set-capabilities",
            source: Box::new(source),
        })
}

/// Load the state at `uri` into a QEMU waiting with `-incoming defer`, its
/// memory mapped from the template's file: `x-ignore-shared` on, then
/// `migrate-incoming`.
pub(crate) fn incoming(qmp: &Qmp, uri: &str, deadline: Instant) -> Result<(), WarmError> {
    ignore_shared(qmp, true, deadline)?;
    qmp.execute(
        "migrate-incoming",
        Some(&serde_json::json!({ "uri": uri })),
        deadline,
    )
    .map(drop)
    .map_err(|source| WarmError::QmpCommand {
        command: "migrate-incoming",
        source: Box::new(source),
    })
}

/// Make the zero pages of the memory file at `path` holes: a guest's kernel
/// zeroes much of its memory, and the cache counts what is allocated. Only
/// the file's data is read (holes are skipped); a failure leaves the file as
/// it was, only bigger than it need be.
pub(crate) fn dig_holes(path: &Path) -> std::io::Result<()> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    use std::os::fd::AsRawFd as _;
    const PAGE: usize = 4096;
    let mut file = std::fs::File::options().read(true).write(true).open(path)?;
    let fd = file.as_raw_fd();
    let len = file.metadata()?.len() as libc::off_t;
    let mut buffer = vec![0u8; 1 << 20];
    let mut at: libc::off_t = 0;
    while at < len {
        // SAFETY: `fd` is open for the whole loop; lseek only moves its offset.
        let data = unsafe { libc::lseek(fd, at, libc::SEEK_DATA) };
        if data < 0 {
            break; // ENXIO: no data after `at`
        }
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(fd, data, libc::SEEK_HOLE) }.min(len);
        let mut offset = data;
        while offset < hole {
            let want = ((hole - offset) as usize).min(buffer.len());
            file.seek(SeekFrom::Start(offset as u64))?;
            file.read_exact(&mut buffer[..want])?;
            for (i, page) in buffer[..want].chunks(PAGE).enumerate() {
                if page.len() == PAGE && page.iter().all(|&b| b == 0) {
                    let start = offset + (i * PAGE) as libc::off_t;
                    // SAFETY: `fd` is open; punching a hole in its own file.
                    let punched = unsafe {
                        libc::fallocate(
                            fd,
                            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                            start,
                            PAGE as libc::off_t,
                        )
                    };
                    if punched != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
            }
            offset += want as libc::off_t;
        }
        at = hole;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(arch: &str, machine: &str, memory: &str) -> MachineConfig {
        let mut c = MachineConfig::new("main");
        c.arch = Some(arch.into());
        c.machine_type = Some(machine.into());
        c.memory = Some(memory.into());
        c
    }

    #[test]
    fn the_built_in_guests_machines_get_a_memory_file_named_as_their_ram() {
        assert_eq!(
            plan(&machine("x86_64", "pc", "256M")),
            Plan::File {
                bytes: 256 << 20,
                id: "pc.ram"
            }
        );
        assert_eq!(
            plan(&machine("aarch64", "virt,gic-version=3", "1G")),
            Plan::File {
                bytes: 1 << 30,
                id: "mach-virt.ram"
            }
        );
        assert_eq!(
            plan(&machine("ppc64", "pseries", "512")),
            Plan::File {
                bytes: 512 << 20,
                id: "ppc_spapr.ram"
            }
        );
    }

    #[test]
    fn an_unknown_machine_or_memory_keeps_the_memory_in_the_stream() {
        assert!(matches!(
            plan(&machine("x86_64", "microvm", "256M")),
            Plan::Stream(why) if why.contains("`microvm`")
        ));
        let mut balloon = machine("x86_64", "pc", "256M");
        balloon.extra_args = vec!["-device".into(), "virtio-balloon-pci".into()];
        assert!(matches!(
            plan(&balloon),
            Plan::Stream(why) if why.contains("`virtio-balloon-pci`")
        ));
        assert!(matches!(
            plan(&machine("x86_64", "q35", "size=1G,maxmem=4G,slots=2")),
            Plan::Stream(why) if why.contains("not a plain size")
        ));
    }

    #[test]
    fn zero_pages_of_a_memory_file_become_holes_and_its_data_stays() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ram");
        let mut bytes = vec![0u8; 64 * 4096];
        bytes[5 * 4096 + 7] = 42;
        std::fs::write(&path, &bytes).expect("write");

        dig_holes(&path).expect("dig holes");

        let meta = std::fs::metadata(&path).expect("metadata");
        assert_eq!(meta.len(), bytes.len() as u64);
        assert!(meta.blocks() * 512 <= 8 * 4096, "{} blocks", meta.blocks());
        assert_eq!(std::fs::read(&path).expect("read"), bytes);
    }

    #[test]
    fn a_filesystem_without_room_for_the_memory_says_so() {
        let dir = tempfile::tempdir().expect("dir");

        assert_eq!(no_room(dir.path(), 4096), None);
        let why = no_room(dir.path(), u64::MAX).expect("no filesystem holds that much");
        assert!(why.contains("less than the guest's memory"), "{why}");
    }

    #[test]
    fn the_backend_names_its_file_with_commas_doubled() {
        let args = backend_args(Path::new("/c,d/ram"), 4096, "pc.ram", false);
        assert_eq!(
            args[1],
            "memory-backend-file,id=pc.ram,mem-path=/c,,d/ram,size=4096,share=off"
        );
        assert_eq!(args[3], "memory-backend=pc.ram");
    }
}
