use traced::traced;

#[traced(tags(db.type = "mongo", db.type = "sqlite"))]
fn get_all_images() {}

fn main() {}
