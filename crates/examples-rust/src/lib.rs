//! Rust examples of kennel tests: see `tests/examples.rs`, run with
//! `cargo test -p kennel-examples` or `cargo nextest run -p kennel-examples`.
