trait Repository {
    #[traced::traced]
    fn get_all_images(&self);
}

fn main() {}
