// Type errors in traced bodies are reported at the user's tokens, once each, as without
// `#[traced]` (the async cases are `tracing`'s own UI failure tests).
use traced::traced;

#[traced]
async fn unit() {
    ""
}

#[traced]
async fn simple_mismatch() -> String {
    ""
}

#[traced]
async fn opaque_unsatisfied() -> impl std::fmt::Display {
    ("",)
}

struct Wrapper<T>(T);

#[traced]
async fn mismatch_with_opaque() -> Wrapper<impl std::fmt::Display> {
    ""
}

#[traced]
async fn early_return_unit() {
    if true {
        return "";
    }
}

#[traced]
async fn early_return() -> String {
    if true {
        return "";
    }
    String::new()
}

#[traced]
async fn extra_semicolon() -> i32 {
    1;
}

#[traced]
fn sync_mismatch() -> String {
    ""
}

#[traced]
fn sync_early_return() -> String {
    if true {
        return "";
    }
    String::new()
}

fn main() {}
