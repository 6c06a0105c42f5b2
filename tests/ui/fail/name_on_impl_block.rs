use traced::traced;

struct Repository;

#[traced(name = "Repository")]
impl Repository {
    fn get_all_images(&self) {}
}

fn main() {}
