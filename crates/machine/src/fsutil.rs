//! Small file-system helpers shared by kennel's crates: the rules themselves
//! live in `kennel-config`, once; these names stay for the crates that used them.

pub use kennel_config::{cache_dir, write_atomic, write_atomic_with};
