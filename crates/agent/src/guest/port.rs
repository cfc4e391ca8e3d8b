//! Finding the agent's virtio-serial port without udev.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::channel::with_context;
use super::sys;

/// Where the kernel lists virtio-serial ports.
const VIRTIO_PORTS: &str = "/sys/class/virtio-ports";

/// The device node of the virtio-serial port named `name`
/// (`/sys/class/virtio-ports/vportNpM/name`), `None` when there is none (yet).
///
/// Without udev `/dev/vportNpM` exists only when devtmpfs is mounted on `/dev`;
/// otherwise the node is created from the port's `dev` numbers.
pub fn find_port(name: &str) -> io::Result<Option<PathBuf>> {
    let entries = match fs::read_dir(VIRTIO_PORTS) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(with_context(e, &format!("cannot list {VIRTIO_PORTS}"))),
    };
    for entry in entries {
        let entry = entry?;
        let Ok(port_name) = fs::read_to_string(entry.path().join("name")) else {
            continue;
        };
        if port_name.trim_end() != name {
            continue;
        }
        let node = Path::new("/dev").join(entry.file_name());
        if !node.exists() {
            make_node(&entry.path(), &node)?;
        }
        return Ok(Some(node));
    }
    Ok(None)
}

fn make_node(sys_dir: &Path, node: &Path) -> io::Result<()> {
    let dev = fs::read_to_string(sys_dir.join("dev"))?;
    let parse = |s: Option<&str>| s.and_then(|s| s.trim().parse::<u32>().ok());
    let mut numbers = dev.split(':');
    let (Some(major), Some(minor)) = (parse(numbers.next()), parse(numbers.next())) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected {}/dev: {dev:?}", sys_dir.display()),
        ));
    };
    sys::mknod_char(node, major, minor)
        .map_err(|e| with_context(e, &format!("cannot create {}", node.display())))
}
