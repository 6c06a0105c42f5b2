use traced::traced;

#[traced(off)]
fn handle() {}

fn main() {}
