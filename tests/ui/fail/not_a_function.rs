use traced::traced;

#[traced]
struct Repository;

fn main() {}
