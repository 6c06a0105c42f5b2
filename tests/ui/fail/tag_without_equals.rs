use traced::traced;

#[traced(tags(db.type))]
fn get_all_images() {}

fn main() {}
