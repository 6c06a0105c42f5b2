//! The errors of configuring and installing the tracer.
//!
//! Written out rather than derived with `thiserror`: its proc-macro brought a second `syn` (3,
//! beside the attribute's 2) into every build of traced, for five messages.

use std::fmt;
use std::io;

/// Why [`crate::init`] or [`crate::Config::from_env`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An environment variable holds a value that cannot be used.
    InvalidVariable {
        /// The variable, e.g. `JAEGER_SAMPLER_PARAM`.
        variable: &'static str,
        /// What it holds.
        value: String,
        /// What is wrong with it, and what would be right.
        reason: String,
    },
    /// A setting made in code is out of range.
    InvalidSetting {
        /// The setting, e.g. `queue_size`.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The agent's host name does not resolve, or the socket cannot be opened.
    Agent {
        /// The `host:port` given.
        address: String,
        /// The resolver's or socket's error.
        source: io::Error,
    },
    /// A tracer is installed already.
    AlreadyInstalled,
    /// The reporter thread could not be started.
    Thread(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidVariable {
                variable,
                value,
                reason,
            } => write!(f, "{variable}={value:?} is invalid: {reason}"),
            Error::InvalidSetting { setting, reason } => {
                write!(f, "invalid setting {setting}: {reason}")
            }
            Error::Agent { address, source } => {
                write!(
                    f,
                    "cannot report to the Jaeger agent at {address:?}: {source}"
                )
            }
            Error::AlreadyInstalled => f.write_str(
                "a tracer is installed already: drop its guard before installing another",
            ),
            Error::Thread(e) => write!(f, "cannot start the reporter thread: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Agent { source, .. } => Some(source),
            _ => None,
        }
    }
}
