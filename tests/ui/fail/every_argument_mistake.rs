// Every mistake in one attribute is reported at once, each at its key or value.
#[traced::traced(nmae = "GetAllImages", kind = sideways, name, args = true, tags)]
fn get_all_images() {}

fn main() {}
