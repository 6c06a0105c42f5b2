use traced::traced;

#[traced(ret)]
fn store(_image: &[u8]) {}

fn main() {}
