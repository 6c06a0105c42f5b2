//! The process's propagation formats: those `Config::propagation` or `OTEL_PROPAGATORS` chose,
//! set by `init`, read by [`super::Propagator::default`].

use std::sync::{PoisonError, RwLock};

use super::Format;

static FORMATS: RwLock<Option<Vec<Format>>> = RwLock::new(None);

/// Makes `formats` the process's (read in this order, all written); `None` restores the
/// built-in default.
pub(crate) fn set_formats(formats: Option<Vec<Format>>) {
    *FORMATS.write().unwrap_or_else(PoisonError::into_inner) = formats;
}

/// The process's formats, if chosen.
pub(super) fn formats() -> Option<Vec<Format>> {
    FORMATS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}
