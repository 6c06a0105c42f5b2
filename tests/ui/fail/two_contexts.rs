use traced::{traced, Context};

#[traced]
fn handle(parent: &Context, other: Context) {
    let _ = (parent, other);
}

fn main() {}
