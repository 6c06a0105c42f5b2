use traced::traced;

#[traced(nmae = "GetAllImages", tags(db.type = "mongo"))]
fn get_all_images() {}

fn main() {}
