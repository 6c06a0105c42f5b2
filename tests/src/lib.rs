//! Integration tests of traced live in `tests/`; this library is empty.
