//! Benchmarks of traced side by side with its peers, in `benches/`; nothing to link here.
//!
//! Run: `cargo bench --manifest-path benches/peers/Cargo.toml --target-dir target/peers`.
