//! A service that finishes 10,000 spans (on four threads) and returns from `main`: the tracer's
//! guard, dropped on the way out, must send every one. Run by `tests/it/delivery_faults.rs`
//! with the agent's `host:port` as its argument.

use traced::{Config, Sampler, traced};

#[traced]
fn work(i: u32) -> u32 {
    i
}

fn main() -> Result<(), traced::Error> {
    let agent = std::env::args().nth(1).expect("the agent's host:port");
    let _tracer = traced::init(
        Config::new("shutdown-child")
            .sampler(Sampler::always())
            .agent(agent),
    )?;
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..2500 {
                    work(t * 10_000 + i);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a worker");
    }
    Ok(())
}
