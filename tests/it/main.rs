//! The integration tests of traced, one module per subject, in one binary: as separate files,
//! each linked axum, reqwest, hyper and the collector again (24 binaries, 284 MB; now 7 in all,
//! 96 MB: README.md has the figures and their commands). The tests run as threads of this one
//! process, so every test that uses the global tracer takes its turn: through
//! `traced::testing::Capture`, or `traced::testing::exclusive()` when it installs its own
//! tracer or makes traced calls with none. The tests that need a process of their own are
//! separate binaries in `tests/tests/` (`tests/Cargo.toml` says why for each).

#[path = "../tests/support/mod.rs"]
mod support;

mod agent_udp;
mod api;
mod arguments;
mod collector;
mod delivery;
mod delivery_faults;
mod errors;
mod finishing;
mod http_hops;
mod http_layers;
mod impl_blocks;
mod otel_interop;
mod other_suites;
mod parents;
mod per_thread_queues;
mod python_interop;
mod queue;
mod unchanged;
