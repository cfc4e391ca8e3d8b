//! The video device a machine may have (`display = "std"` in a test file,
//! `.display(..)` in Rust): which QEMU device it is on each architecture.
//! QEMU's own display stays `none`: the screen is read through QMP
//! (`screendump`), never shown in a window.

/// A machine's video device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisplayDevice {
    /// The standard VGA with Bochs VBE extensions (`-device VGA`).
    Std,
    /// The paravirtual GPU (`virtio-vga` where the architecture has VGA,
    /// else `virtio-gpu-pci`).
    Virtio,
    /// The Cirrus CLGD 5446 (`-device cirrus-vga`).
    Cirrus,
    /// A framebuffer the firmware sets up in guest RAM (`-device ramfb`).
    Ramfb,
    /// The Bochs display without VGA compatibility (`-device bochs-display`).
    Bochs,
}

impl DisplayDevice {
    /// Every device, in the order the docs list them.
    pub const ALL: [DisplayDevice; 5] = [
        DisplayDevice::Std,
        DisplayDevice::Virtio,
        DisplayDevice::Cirrus,
        DisplayDevice::Ramfb,
        DisplayDevice::Bochs,
    ];

    /// From a test file's `display = "..."`.
    ///
    /// ```
    /// use kennel_machine::DisplayDevice;
    /// assert_eq!(DisplayDevice::from_name("std"), Some(DisplayDevice::Std));
    /// assert_eq!(DisplayDevice::from_name("vga"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<DisplayDevice> {
        DisplayDevice::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Its name in a test file.
    pub fn name(self) -> &'static str {
        match self {
            DisplayDevice::Std => "std",
            DisplayDevice::Virtio => "virtio",
            DisplayDevice::Cirrus => "cirrus",
            DisplayDevice::Ramfb => "ramfb",
            DisplayDevice::Bochs => "bochs",
        }
    }

    /// The QEMU device (`-device <this>`) on a machine of `arch`.
    ///
    /// ```
    /// use kennel_machine::DisplayDevice;
    /// assert_eq!(DisplayDevice::Virtio.qemu_device("x86_64"), "virtio-vga");
    /// assert_eq!(DisplayDevice::Virtio.qemu_device("aarch64"), "virtio-gpu-pci");
    /// ```
    pub fn qemu_device(self, arch: &str) -> &'static str {
        match self {
            DisplayDevice::Std => "VGA",
            DisplayDevice::Virtio if has_vga(arch) => "virtio-vga",
            DisplayDevice::Virtio => "virtio-gpu-pci",
            DisplayDevice::Cirrus => "cirrus-vga",
            DisplayDevice::Ramfb => "ramfb",
            DisplayDevice::Bochs => "bochs-display",
        }
    }
}

/// Whether QEMU builds its VGA-compatible devices for `arch` (`virtio-vga`
/// exists there).
fn has_vga(arch: &str) -> bool {
    matches!(arch, "x86_64" | "i386" | "ppc64" | "ppc")
}
