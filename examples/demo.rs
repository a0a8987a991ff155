//! Spawn/yield demo: goroutines take turns, join handles return results.
//!
//! `cargo run --release --example demo`

fn main() {
    let total = goro::run(|| {
        let workers: Vec<_> = (1..=3u64)
            .map(|id| {
                goro::spawn(move || {
                    let mut sum = 0;
                    for step in 1..=3 {
                        println!("goroutine {id}: step {step}");
                        sum += id * step;
                        goro::yield_now();
                    }
                    sum
                })
                .expect("spawn")
            })
            .collect();
        workers.into_iter().map(|h| h.join().expect("join")).sum::<u64>()
    })
    .expect("goro::run");
    println!("sum of results: {total}");
    let s = goro::stats();
    println!("spawned {} goroutines, {} context switches", s.goroutines_spawned, s.context_switches);
}
