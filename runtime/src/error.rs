//! The errors of configuring and installing the tracer.

use std::io;

/// Why [`crate::init`] or [`crate::Config::from_env`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An environment variable holds a value that cannot be used.
    #[error("{variable}={value:?} is invalid: {reason}")]
    InvalidVariable {
        /// The variable, e.g. `JAEGER_SAMPLER_PARAM`.
        variable: &'static str,
        /// What it holds.
        value: String,
        /// What is wrong with it, and what would be right.
        reason: String,
    },
    /// A setting made in code is out of range.
    #[error("invalid setting {setting}: {reason}")]
    InvalidSetting {
        /// The setting, e.g. `queue_size`.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The agent's host name does not resolve, or the socket cannot be opened.
    #[error("cannot report to the Jaeger agent at {address:?}: {source}")]
    Agent {
        /// The `host:port` given.
        address: String,
        /// The resolver's or socket's error.
        source: io::Error,
    },
    /// A tracer is installed already.
    #[error("a tracer is installed already: drop its guard before installing another")]
    AlreadyInstalled,
    /// The reporter thread could not be started.
    #[error("cannot start the reporter thread: {0}")]
    Thread(io::Error),
}
