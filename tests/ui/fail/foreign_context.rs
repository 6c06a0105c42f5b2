mod templates {
    pub struct Context;
}

#[traced::traced]
fn render(cx: &templates::Context) {
    let _ = cx;
}

fn main() {}
