//! Servers from PyPI for the gallery's tests (SecantusDB for MongoDB, moto for S3): each
//! installed, pinned by a requirements file here in `tests/support/`, into a venv of its own
//! under the target directory, and started on a free loopback port for as long as a test holds
//! it (traced-test-support's venvs and servers, which the workspace's other tests use too).

// Each test crate that includes this module uses part of it, and reaches its items as `pub`
// through its own `mod support`; the library's unit tests include it privately.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};

pub use traced_test_support::{Server, unique_name};

/// The `bin` directory of the venv `name`, with `tests/support/{requirements}` installed.
pub fn venv(name: &str, requirements: &str) -> PathBuf {
    let requirements = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(requirements);
    traced_test_support::venv(name, &requirements)
}
