//! In-memory VFAT images built with the `fatfs` crate.

use std::io::{Cursor, Write};

use crate::CloudError;

const MIB: usize = 1024 * 1024;

/// Build a FAT image (FAT12 for small content) labelled `label` holding
/// `files` in its root directory, and return its bytes.
///
/// The image is 1 MiB, or larger when the files need it. The label is padded
/// with spaces to the 11 bytes FAT requires; it is written both into the boot
/// sector and as the root directory's volume-label entry, which is where
/// `blkid` and mtools look.
pub(crate) fn build(
    label: &str,
    volume_id: u32,
    files: &[(&str, &[u8])],
) -> Result<Vec<u8>, CloudError> {
    let content: usize = files.iter().map(|(_, data)| data.len()).sum();
    let wanted = content + content / 4 + MIB / 4;
    let size = wanted.div_ceil(MIB).max(1) * MIB;

    let mut label_bytes = [b' '; 11];
    for (slot, b) in label_bytes.iter_mut().zip(label.bytes()) {
        *slot = b.to_ascii_uppercase();
    }

    let mut disk = Cursor::new(vec![0u8; size]);
    let options = fatfs::FormatVolumeOptions::new()
        .volume_label(label_bytes)
        .volume_id(volume_id);
    fatfs::format_volume(&mut disk, options).map_err(|source| CloudError::Fat {
        step: "format",
        source,
    })?;
    disk.set_position(0);
    {
        let fs = fatfs::FileSystem::new(&mut disk, fatfs::FsOptions::new()).map_err(|source| {
            CloudError::Fat {
                step: "mount",
                source,
            }
        })?;
        for (name, data) in files {
            let root = fs.root_dir();
            let mut file = root.create_file(name).map_err(|source| CloudError::Fat {
                step: "create file",
                source,
            })?;
            file.truncate().map_err(|source| CloudError::Fat {
                step: "create file",
                source,
            })?;
            file.write_all(data)
                .and_then(|()| file.flush())
                .map_err(|source| CloudError::Fat {
                    step: "write file",
                    source,
                })?;
        }
        fs.unmount().map_err(|source| CloudError::Fat {
            step: "unmount",
            source,
        })?;
    }
    Ok(disk.into_inner())
}
