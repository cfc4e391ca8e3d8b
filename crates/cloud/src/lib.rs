//! Cloud images for kennel's tests.
//!
//! - [`Provider`] resolves names like `"debian 12 amd64"` ([`ImageRef`]) to a
//!   download URL and checksum, from the distributions' checksum files;
//! - [`create_overlay`] puts a copy-on-write qcow2 overlay on a base image;
//! - [`write_seed`] builds a NoCloud seed (a VFAT image labelled `CIDATA`)
//!   that creates a user with an SSH key and makes cloud-init phone home;
//! - [`PhoneHome`] is the loopback HTTP server receiving those reports.
#![deny(missing_docs)]

mod checksums;
mod error;
mod fetch;
#[cfg(test)]
mod fuzz;
mod http;
mod image_ref;
mod multipart;
mod overlay;
mod phone_home;
mod provider;
mod seed;
mod vfat;
mod yaml;

pub use error::CloudError;
pub use image_ref::{Distro, ImageRef};
pub use overlay::{create_overlay, detect_format, find_qemu_img, ImageFormat};
pub use phone_home::{PhoneHome, PhoneHomeReport};
pub use provider::{Provider, Resolved, CACHE_FRESHNESS, DEFAULT_DEBIAN_VARIANT, MIRROR_ENV};
pub use seed::{
    meta_data, new_instance_id, user_data, write_seed, SeedConfig, SEED_LABEL, USER_MERGE_TYPE,
};
