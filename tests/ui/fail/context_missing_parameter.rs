use traced::{traced, Context};

#[traced(context = ctx)]
fn handle(cx: &Context) {
    let _ = cx;
}

fn main() {}
