use traced::traced;

#[traced(tags(1 = 2))]
fn get_all_images() {}

fn main() {}
