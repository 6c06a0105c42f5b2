//! Compile-time behaviour of `#[traced]`: every misuse is an error pointing at the offending
//! tokens (`ui/fail/*.rs` with their exact `.stderr`), and every supported shape compiles
//! without a warning (`ui/pass/*.rs`).

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/fail/*.rs");
    cases.pass("ui/pass/*.rs");
}
