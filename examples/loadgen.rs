//! Echo load generator, written with goro: one goroutine per connection.
//!
//! ```text
//! cargo run --release --example loadgen -- --addr 127.0.0.1:7878 \
//!     --conns 1000 --size 64 --duration 5
//! ```
//!
//! Every connection sends a `--size`-byte message, reads the whole echo
//! back (and checks it), and repeats until `--duration` seconds have
//! passed. At the end it prints the round trips per second and the latency
//! percentiles (p50, p90, p99, max). Works against any echo server. It
//! exits with status 1 if any connection failed (the figures are still
//! printed). Messages are at most 1 MiB: the whole message is written
//! before the echo is read, so it must fit in the socket buffers.

use goro::net::TcpStream;
use goro::time::Instant;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

static RT: goro::Runtime<20_000, 20_000> = goro::Runtime::new();

struct Args {
    addr: String,
    conns: usize,
    size: usize,
    duration: Duration,
}

fn main() {
    let args = parse_args();
    println!("loadgen: {} connections to {}, {}-byte messages, {:?}", args.conns, args.addr, args.size, args.duration);
    let r = RT.run(goro::Config::new().stack_size(64 * 1024), move || drive(args));
    match r {
        Ok(Ok(())) => {}
        Ok(Err(msg)) => {
            eprintln!("loadgen: {msg}");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("loadgen: runtime: {e}");
            std::process::exit(1);
        }
    }
}

fn parse_args() -> Args {
    let mut a = Args { addr: "127.0.0.1:7878".into(), conns: 100, size: 64, duration: Duration::from_secs(5) };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--addr" => a.addr = value(),
            "--conns" => a.conns = value().parse().unwrap_or_else(|_| usage("--conns: a positive integer")),
            "--size" => a.size = value().parse().unwrap_or_else(|_| usage("--size: bytes, a positive integer")),
            "--duration" => {
                let s: f64 = value().parse().unwrap_or_else(|_| usage("--duration: seconds"));
                if !(s > 0.0 && s < 1e6) {
                    usage("--duration: seconds, more than 0");
                }
                a.duration = Duration::from_secs_f64(s);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if a.conns == 0 || a.conns > 19_000 || a.size == 0 || a.size > MAX_SIZE {
        usage("--conns must be 1..=19000 and --size 1..=1048576");
    }
    a
}

/// Each connection writes its whole message before reading the echo, so a
/// message must fit in the socket buffers of both directions (a few MB on
/// loopback) or neither side reads: 1 MiB at most.
const MAX_SIZE: usize = 1 << 20;

const USAGE: &str = "usage: loadgen [--addr HOST:PORT] [--conns N] [--size BYTES (at most 1 MiB)] [--duration SECS]";

fn usage(msg: &str) -> ! {
    eprintln!("loadgen: {msg}");
    eprintln!("{USAGE}");
    std::process::exit(2);
}

/// What the connection goroutines share.
struct Shared {
    addr: String,
    size: usize,
    /// Connections that finished connecting (or failed to).
    ready: AtomicUsize,
    go: AtomicBool,
    end: OnceLock<Instant>,
}

/// One connection's results.
struct Outcome {
    hist: Histogram,
    error: Option<String>,
}

fn drive(args: Args) -> Result<(), String> {
    let shared = Arc::new(Shared {
        addr: args.addr.clone(),
        size: args.size,
        ready: AtomicUsize::new(0),
        go: AtomicBool::new(false),
        end: OnceLock::new(),
    });
    let mut handles = Vec::with_capacity(args.conns);
    for _ in 0..args.conns {
        let sh = shared.clone();
        handles.push(goro::spawn(move || connection(&sh)).map_err(|e| format!("spawn: {e}"))?);
    }
    // Start the clock once every connection is up (or failed).
    while shared.ready.load(Ordering::SeqCst) < args.conns {
        goro::sleep(Duration::from_millis(1));
    }
    let start = Instant::now();
    shared.end.set(start + args.duration).ok();
    shared.go.store(true, Ordering::SeqCst);

    let mut total = Histogram::new();
    let mut errors = Vec::new();
    for h in handles {
        let o = h.join().map_err(|e| format!("connection goroutine: {e:?}"))?;
        total.merge(&o.hist);
        errors.extend(o.error);
    }
    let secs = start.elapsed().as_secs_f64();
    let n = total.count;
    println!("round trips: {n} in {secs:.2} s = {:.0}/s", n as f64 / secs);
    println!(
        "latency: p50 {}  p90 {}  p99 {}  max {}",
        fmt_ns(total.percentile(50.0)),
        fmt_ns(total.percentile(90.0)),
        fmt_ns(total.percentile(99.0)),
        fmt_ns(total.max)
    );
    if n == 0 {
        return Err("no round trip completed".into());
    }
    if !errors.is_empty() {
        return Err(format!("{} of {} connections failed; first: {}", errors.len(), args.conns, errors[0]));
    }
    Ok(())
}

fn connection(sh: &Shared) -> Outcome {
    let mut out = Outcome { hist: Histogram::new(), error: None };
    let conn = TcpStream::connect(sh.addr.as_str());
    sh.ready.fetch_add(1, Ordering::SeqCst);
    let s = match conn {
        Ok(s) => s,
        Err(e) => {
            out.error = Some(format!("connect: {e}"));
            return out;
        }
    };
    while !sh.go.load(Ordering::SeqCst) {
        goro::sleep(Duration::from_millis(1));
    }
    let end = *sh.end.get().expect("end is set before go");
    // A stuck server must not hang the generator.
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(10)));
    let _ = s.set_nodelay(true);
    let msg: Vec<u8> = (0..sh.size).map(|i| (i % 251) as u8).collect();
    let mut back = vec![0u8; sh.size];
    while Instant::now() < end {
        let t0 = Instant::now();
        if let Err(e) = s.write_all(&msg) {
            out.error = Some(format!("write: {e}"));
            break;
        }
        let mut got = 0;
        while got < back.len() {
            match s.read(&mut back[got..]) {
                Ok(0) => {
                    out.error = Some("server closed the connection".into());
                    return out;
                }
                Ok(n) => got += n,
                Err(e) => {
                    out.error = Some(format!("read: {e}"));
                    return out;
                }
            }
        }
        out.hist.record(t0.elapsed().as_nanos() as u64);
        if back != msg {
            out.error = Some("echo differs from the message sent".into());
            break;
        }
    }
    let _ = s.shutdown(goro::net::Shutdown::Write);
    out
}

/// Log-linear latency histogram (nanoseconds): exact below 64 ns, then 32
/// buckets per power of two (about 3% resolution).
struct Histogram {
    buckets: Vec<u64>,
    count: u64,
    max: u64,
}

const SUB_BITS: u32 = 5;
const BUCKETS: usize = (64 - SUB_BITS as usize) * 32 + 32;

impl Histogram {
    fn new() -> Self {
        Histogram { buckets: vec![0; BUCKETS], count: 0, max: 0 }
    }

    fn index(v: u64) -> usize {
        if v < 64 {
            return v as usize;
        }
        let e = 63 - v.leading_zeros();
        (e - SUB_BITS + 1) as usize * 32 + ((v >> (e - SUB_BITS)) & 31) as usize
    }

    /// The upper bound of bucket `i`.
    fn value(i: usize) -> u64 {
        if i < 64 {
            return i as u64;
        }
        let e = (i / 32) as u32 - 1 + SUB_BITS;
        let sub = (i % 32) as u64;
        ((32 + sub + 1) << (e - SUB_BITS)) - 1
    }

    fn record(&mut self, ns: u64) {
        self.buckets[Self::index(ns)] += 1;
        self.count += 1;
        self.max = self.max.max(ns);
    }

    fn merge(&mut self, o: &Histogram) {
        for (a, b) in self.buckets.iter_mut().zip(&o.buckets) {
            *a += b;
        }
        self.count += o.count;
        self.max = self.max.max(o.max);
    }

    fn percentile(&self, p: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Self::value(i).min(self.max);
            }
        }
        self.max
    }
}

fn fmt_ns(ns: u64) -> String {
    match ns {
        0..=999 => format!("{ns}ns"),
        1_000..=999_999 => format!("{:.1}us", ns as f64 / 1e3),
        _ => format!("{:.2}ms", ns as f64 / 1e6),
    }
}
