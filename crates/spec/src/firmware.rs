//! The names of a machine's firmware and TPM keys (`docs/firmware.md`); the
//! machine core (`kennel_machine::firmware`, `kennel_machine::tpm`) gives
//! them their meaning.

/// The firmware a machine may boot (`firmware = "uefi"`; `bios` is QEMU's default).
pub const FIRMWARES: [&str; 2] = ["bios", "uefi"];

/// The TPM versions a machine may have (`tpm = "2.0"`).
pub const TPMS: [&str; 2] = ["2.0", "1.2"];
