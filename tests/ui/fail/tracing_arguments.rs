// `tracing`'s arguments are named and translated for a migrating user.
#[traced::traced(fields(db.type = "mongo"), err, level = "info", skip_all)]
fn get_all_images() -> Result<(), String> {
    Ok(())
}

fn main() {}
