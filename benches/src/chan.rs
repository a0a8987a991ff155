//! Channel benchmarks: goro's `goro::sync::Channel` next to Go's `chan`,
//! with 1 and 2 Ps (`GOMAXPROCS=1` and `2` on the Go side).
//!
//! - **ping-pong** (`ns/round trip`): two unbuffered channels; the main
//!   goroutine sends `i` on one and waits for the echo on the other, an
//!   echo goroutine sends back every value it receives. One round trip is
//!   two rendezvous hand-offs, so two parks and two wake-ups.
//! - **buffered** (`ns/message`): a producer goroutine sends `n` values
//!   into a channel with room for 128, the main goroutine receives them.
//!
//! Each timed run has a warm-up pass of `n/10` in the same `run` (the same
//! Go process), and only the timed pass is measured, as for the other
//! micro benchmarks. The Go side is `gobench chanpingpong|chanbuffered N`
//! from `benches/go/chan.go`.
//!
//! Self-contained: the harness calls [`bench`] with the path of the built
//! `gobench` binary (or `None` without Go).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro::sync::Channel;

/// Runs of each measurement (median reported), as the other benchmarks.
const RUNS: usize = 5;
/// Wall time aimed at for one timed run.
const TARGET_RUN: Duration = Duration::from_millis(300);
/// Target: goro's ping-pong round trip at most this fraction of Go's.
pub const PING_PONG_TARGET: f64 = 0.20;
/// Buffer of the throughput benchmark (both sides).
const BUF: usize = 128;

/// The runtime the channel benchmarks run on.
static RT: goro::Runtime<1_000, 16> = goro::Runtime::new();

fn run<T: Send + 'static>(procs: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    RT.run(goro::Config::new().procs(procs), f).expect("goro run (chan bench)")
}

/// Unbuffered ping-pong: `n` round trips (after `n/10` of warm-up).
pub fn goro_ping_pong(procs: usize, n: u64) -> Duration {
    let (d, sum) = run(procs, move || {
        // Fresh channels per run (a closed channel stays closed).
        let chans = Arc::new((Channel::<u64, 0>::new(), Channel::<u64, 0>::new()));
        let c = chans.clone();
        let echo = goro::spawn(move || {
            let (ping, pong) = (&c.0, &c.1);
            while let Ok(v) = ping.recv() {
                pong.send(v).unwrap();
            }
        })
        .unwrap();
        let (ping, pong) = (&chans.0, &chans.1);
        let rounds = |n: u64| {
            let mut sum = 0u64;
            for i in 0..n {
                ping.send(i).unwrap();
                sum = sum.wrapping_add(pong.recv().unwrap());
            }
            sum
        };
        rounds(n / 10 + 1);
        let t = Instant::now();
        let sum = rounds(n);
        let d = t.elapsed();
        ping.close();
        echo.join().unwrap();
        (d, sum)
    });
    check(sum == n.wrapping_mul(n.wrapping_sub(1)) / 2, || format!("ping-pong: echoed sum {sum} for n = {n}"));
    d
}

/// Buffered throughput: `n` messages through a 128-slot channel from a
/// producer goroutine to the main goroutine (after `n/10` of warm-up).
pub fn goro_buffered(procs: usize, n: u64) -> Duration {
    let (d, sum) = run(procs, move || {
        let pass = |n: u64| {
            let ch = Arc::new(Channel::<u64, BUF>::new());
            let tx = ch.clone();
            let p = goro::spawn(move || {
                for i in 0..n {
                    tx.send(i).unwrap();
                }
            })
            .unwrap();
            let mut sum = 0u64;
            for _ in 0..n {
                sum = sum.wrapping_add(ch.recv().unwrap());
            }
            p.join().unwrap();
            sum
        };
        pass(n / 10 + 1);
        let t = Instant::now();
        let sum = pass(n);
        (t.elapsed(), sum)
    });
    check(sum == n.wrapping_mul(n.wrapping_sub(1)) / 2, || format!("buffered: received sum {sum} for n = {n}"));
    d
}

/// The timed pass of `gobench MODE N` with `GOMAXPROCS=procs`.
pub fn go_time(bin: &Path, mode: &str, procs: usize, n: u64) -> Duration {
    let o = Command::new(bin)
        .args([mode, &n.to_string()])
        .env("GOMAXPROCS", procs.to_string())
        .output()
        .expect("run gobench");
    if !o.status.success() {
        panic!("gobench {mode} {n} failed: {}\n{}", o.status, String::from_utf8_lossy(&o.stderr));
    }
    let out = String::from_utf8_lossy(&o.stdout);
    let get = |k: &str| {
        out.split_whitespace()
            .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("gobench {mode}: no {k}= in {out:?}"))
            .to_string()
    };
    assert_eq!(get("procs"), procs.to_string(), "gobench {mode}: GOMAXPROCS");
    Duration::from_nanos(get("ns").parse().expect("gobench ns"))
}

fn check(ok: bool, what: impl FnOnce() -> String) {
    if !ok {
        println!("  !! CHECK FAILED: {}", what());
    }
}

fn ns_per(d: Duration, n: u64) -> f64 {
    d.as_nanos() as f64 / n as f64
}

fn calibrate(f: &dyn Fn(u64) -> Duration) -> u64 {
    let probe = 20_000;
    let per = ns_per(f(probe), probe).max(0.1);
    ((TARGET_RUN.as_nanos() as f64 / per) as u64).clamp(10_000, 100_000_000)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn spread(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(0.0, f64::max);
    format!("[{lo:.2} .. {hi:.2}]")
}

/// One benchmark's medians, goro and Go.
#[derive(Clone, Debug)]
pub struct Row {
    /// What was measured, with the number of Ps.
    pub name: String,
    /// The unit of the figures.
    pub unit: &'static str,
    /// goro's median.
    pub goro: f64,
    /// Go's median, if Go ran.
    pub go: Option<f64>,
    /// A goro/Go ratio target, if the benchmark has one.
    pub target: Option<f64>,
}

/// Measures one benchmark: goro and Go runs alternate, median of `RUNS`.
fn measure(
    name: String,
    unit: &'static str,
    goro_f: &dyn Fn(u64) -> Duration,
    go_f: Option<&dyn Fn(u64) -> Duration>,
    target: Option<f64>,
) -> Row {
    println!("== {name} ({unit}, {RUNS} runs, median)");
    let n_goro = calibrate(goro_f);
    let n_go = go_f.map(calibrate);
    let (mut goro, mut go) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        goro.push(ns_per(goro_f(n_goro), n_goro));
        if let (Some(f), Some(n)) = (go_f, n_go) {
            go.push(ns_per(f(n), n));
        }
    }
    let goro_m = median(&mut goro);
    println!("  goro: {goro_m:10.2}  runs {}  (n = {n_goro})", spread(&goro));
    let go_m = n_go.map(|n| {
        let m = median(&mut go);
        println!("  Go:   {m:10.2}  runs {}  (n = {n})", spread(&go));
        m
    });
    println!();
    Row { name, unit, goro: goro_m, go: go_m, target }
}

/// Runs the channel benchmarks (1 and 2 Ps), prints each and a summary,
/// and returns the rows. `go` is the built `gobench` binary, if any.
pub fn bench(go: Option<&Path>) -> Vec<Row> {
    let t_all = Instant::now();
    // Warm-up: maps the runtime's stacks, faults in the code.
    goro_ping_pong(1, 10_000);
    goro_buffered(2, 10_000);
    let mut rows = Vec::new();
    for procs in [1, 2] {
        let go_pp = go.map(|bin| move |n| go_time(bin, "chanpingpong", procs, n));
        rows.push(measure(
            format!("chan ping-pong, {procs} P"),
            "ns/round trip",
            &|n| goro_ping_pong(procs, n),
            go_pp.as_ref().map(|f| f as &dyn Fn(u64) -> Duration),
            Some(PING_PONG_TARGET),
        ));
        let go_buf = go.map(|bin| move |n| go_time(bin, "chanbuffered", procs, n));
        rows.push(measure(
            format!("chan buffered({BUF}), {procs} P"),
            "ns/message",
            &|n| goro_buffered(procs, n),
            go_buf.as_ref().map(|f| f as &dyn Fn(u64) -> Duration),
            None,
        ));
    }
    println!("== channel summary (medians)");
    println!("  {:<32} {:>10} {:>10} {:>9}  {:<16} result", "benchmark", "goro", "Go", "goro/Go", "target");
    for r in &rows {
        let ratio = r.go.map(|g| r.goro / g);
        let (target, result) = match (r.target, ratio) {
            (Some(t), Some(x)) => (format!("goro/Go <= {t:.2}"), if x <= t { "PASS" } else { "MISS" }),
            (Some(t), None) => (format!("goro/Go <= {t:.2}"), "n/a"),
            (None, _) => ("-".to_string(), "-"),
        };
        println!(
            "  {:<32} {:>10.2} {:>10} {:>9} {:<16} {result}",
            format!("{} ({})", r.name, r.unit),
            r.goro,
            r.go.map_or("n/a".into(), |g| format!("{g:.2}")),
            ratio.map_or("n/a".into(), |x| format!("{x:.3}")),
            target,
        );
    }
    ping_pong_floor(rows.iter().find(|r| r.name == "chan ping-pong, 1 P").and_then(|r| r.go));
    println!("\nchannel bench time: {:.1} s", t_all.elapsed().as_secs_f64());
    rows
}

/// The floor under the ping-pong figure: the hand-off mechanism alone
/// (`goro::bench_chan_floor_round_trips`: two contexts on one thread with
/// goro's switch, a spin lock per channel, a waiter slot, a run-next slot,
/// the lock released after the switch), none of the runtime's bookkeeping.
fn ping_pong_floor(go_1p: Option<f64>) {
    crate::print_floor(
        "channel hand-off mechanism alone, ping-pong round trip",
        goro::bench_chan_floor_round_trips,
        go_1p,
        "Go's 1-P ping-pong",
    );
}
