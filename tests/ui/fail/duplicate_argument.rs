use traced::traced;

#[traced(ret, args, ret)]
fn count(n: u32) -> u32 {
    n
}

fn main() {}
