use traced::traced;

#[traced(tags(payload = b"bytes"))]
fn get_all_images() {}

fn main() {}
