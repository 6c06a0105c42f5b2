// A syntax error in a traced body is the compiler's own, reported once.
#[traced::traced]
fn broken() -> u32 {
    let x = ;
    x
}

fn main() {}
