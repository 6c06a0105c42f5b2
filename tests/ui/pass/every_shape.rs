#![deny(warnings)]

include!("../shapes.rs");

fn main() {
    run();
}
