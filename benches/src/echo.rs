//! The echo-server benchmark harness (see benches/README.md, "4. Echo
//! servers").
//!
//! For every point (connections x message size) and repetition it starts
//! each server in a fresh process pinned to one CPU, runs the load
//! generator (`goro-bench echo-client`, pinned to another CPU) against it,
//! and kills both. The client reports round trips, latency, its own CPU
//! time and the server's /proc/PID/stat CPU time over the same window.
//! Medians over the repetitions are printed, with ratios and targets. Two
//! last, short runs per server count system calls per round trip: one
//! with `perf stat` counting the `raw_syscalls:sys_enter` tracepoint (a
//! counter bump per call, so the server runs at its normal speed), one
//! under `strace -c -f` (which names the calls, but slows every one of
//! them down so much that the server, not the client, becomes the
//! bottleneck: it then finds more events per epoll wait than it does in
//! the measured runs).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{median, parse_kv, sys, GoBench};

/// Targets from the issue: goro's server CPU/rt vs the floor's, with 1 P
/// and with 2 Ps (`--procs 2`).
const CPU_VS_FLOOR_TARGET: f64 = 1.05;
const CPU_VS_FLOOR_TARGET_2P: f64 = 1.10;
const SYSCALLS_TARGET: f64 = 2.05;
/// Client CPU utilisation from which the client counts as saturated.
const CLIENT_SATURATED: f64 = 0.90;
/// CPU use by other processes (in CPUs) from which a point is flagged.
const OTHER_BUSY: f64 = 0.10;
/// Time a server gets to print `listening on ADDR`.
const SERVER_START: Duration = Duration::from_secs(10);
/// The strace run: point and length.
const STRACE_CONNS: usize = 100;
const STRACE_SIZE: usize = 64;
const STRACE_WARMUP: f64 = 0.3;
const STRACE_SECS: f64 = 1.0;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Kind {
    Floor,
    FloorShort,
    Go,
    Tokio,
    Goro,
}

impl Kind {
    const ALL: [Kind; 5] = [Kind::Floor, Kind::FloorShort, Kind::Go, Kind::Tokio, Kind::Goro];
    /// What runs by default (`floor-short` is opt-in, `--servers`).
    const DEFAULT: [Kind; 4] = [Kind::Floor, Kind::Go, Kind::Tokio, Kind::Goro];

    fn name(self) -> &'static str {
        match self {
            Kind::Floor => "floor",
            Kind::FloorShort => "floor-short",
            Kind::Go => "Go",
            Kind::Tokio => "tokio",
            Kind::Goro => "goro",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name().eq_ignore_ascii_case(s))
    }
}

pub struct Opts {
    reps: usize,
    secs: f64,
    warmup: f64,
    servers: Vec<Kind>,
    conns: Vec<usize>,
    sizes: Vec<usize>,
    strace: bool,
    /// Ps of the servers: GORO_PROCS, GOMAXPROCS, tokio workers (the floor
    /// stays single-threaded). With more than 1, the server may run on the
    /// first N allowed CPUs; the client stays pinned to the second one.
    procs: usize,
}

pub const USAGE: &str = "goro-bench echo [--quick] [--reps N] [--secs S] [--warmup S] \
[--servers floor,go,tokio,goro,floor-short] [--conns 1,100,1000] [--sizes 64,512] [--no-strace] [--procs 1|2]";

impl Opts {
    /// Defaults; `GORO_BENCH_QUICK=1` in the environment means 1 repetition.
    pub fn from_env() -> Opts {
        let quick = std::env::var("GORO_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        Opts {
            reps: if quick { 1 } else { 5 },
            secs: 2.0,
            warmup: 0.5,
            servers: Kind::DEFAULT.to_vec(),
            conns: vec![1, 100, 1000],
            sizes: vec![64, 512],
            strace: true,
            procs: 1,
        }
    }

    /// The 2-P run of the default flow: at most 3 repetitions, no strace run.
    pub fn two_procs(mut self) -> Opts {
        self.procs = 2;
        self.reps = self.reps.min(3);
        self.strace = false;
        self
    }

    pub fn parse(args: &[String]) -> Result<Opts, String> {
        let mut o = Opts::from_env();
        let mut it = args.iter();
        fn list<T: std::str::FromStr>(v: &str) -> Result<Vec<T>, String> {
            v.split(',').map(|x| x.trim().parse().map_err(|_| format!("bad list item {x:?}"))).collect()
        }
        while let Some(a) = it.next() {
            let mut val = || it.next().ok_or_else(|| format!("{a} needs a value"));
            match a.as_str() {
                "--quick" => o.reps = 1,
                "--reps" => o.reps = val()?.parse().map_err(|_| "--reps N")?,
                "--secs" => o.secs = val()?.parse().map_err(|_| "--secs S")?,
                "--warmup" => o.warmup = val()?.parse().map_err(|_| "--warmup S")?,
                "--servers" => {
                    o.servers = val()?
                        .split(',')
                        .map(|s| Kind::parse(s.trim()).ok_or_else(|| format!("unknown server {s:?}")))
                        .collect::<Result<_, _>>()?
                }
                "--conns" => o.conns = list(val()?)?,
                "--sizes" => o.sizes = list(val()?)?,
                "--no-strace" => o.strace = false,
                "--procs" => o.procs = val()?.parse().map_err(|_| "--procs N")?,
                _ => return Err(format!("unknown argument {a}")),
            }
        }
        if !(1..=64).contains(&o.procs) {
            return Err("--procs must be in 1..=64".into());
        }
        if o.procs > 1 {
            // strace -f on a multi-threaded server: not this mode's figure.
            o.strace = false;
        }
        if o.reps == 0 || !(o.secs > 0.0 && o.secs <= 60.0) || !(0.0..=10.0).contains(&o.warmup) {
            return Err("need --reps >= 1, 0 < --secs <= 60, 0 <= --warmup <= 10".into());
        }
        if o.conns.iter().chain(&o.sizes).any(|&x| x == 0 || x > 100_000) || o.servers.is_empty() {
            return Err("connections and sizes must be in 1..=100000, and at least one server given".into());
        }
        Ok(o)
    }
}

// ------------------------------------------------------------ the servers

struct Server {
    kind: Kind,
    program: PathBuf,
    /// Arguments before the address.
    args: Vec<String>,
    /// Whether the address follows `--addr` (else it is positional).
    addr_flag: bool,
    env: Vec<(&'static str, String)>,
}

impl Server {
    fn command(&self, addr: &str) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args);
        if self.addr_flag {
            c.arg("--addr");
        }
        c.arg(addr);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }
}

/// Builds goro's examples/echo.rs with the profile this harness was built
/// with (`perf` under `just bench`, or `release`) and returns the binary;
/// Err says why goro is skipped (no such file yet, or the build failed).
fn goro_echo() -> Result<PathBuf, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().ok_or("no workspace root")?.to_path_buf();
    if !root.join("examples/echo.rs").exists() {
        return Err(format!("{} does not exist yet", root.join("examples/echo.rs").display()));
    }
    // target/<profile dir>/goro-bench: `release` is `--release`, any other
    // directory is the custom profile of that name.
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = exe.parent().ok_or("no profile dir")?;
    let target = dir.parent().ok_or("no target dir")?;
    let profile = dir.file_name().and_then(|n| n.to_str()).unwrap_or("release").to_string();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let args = ["build", "--profile", profile.as_str(), "--example", "echo"];
    let shown = format!("cargo {}", args.join(" "));
    let t = Instant::now();
    let o = Command::new(cargo)
        .args(args)
        .current_dir(&root)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{shown}: {e}"))?;
    if !o.status.success() {
        return Err(format!("`{shown}` failed:\n{}", tail(&String::from_utf8_lossy(&o.stderr), 15)));
    }
    let mut bin = target.join(&profile).join("examples/echo");
    if !bin.exists() {
        bin = root.join("target").join(&profile).join("examples/echo");
    }
    if !bin.exists() {
        return Err(format!("built, but {} not found", bin.display()));
    }
    println!("goro: built examples/echo in {:.1} s: {}", t.elapsed().as_secs_f64(), bin.display());
    Ok(bin)
}

fn servers(o: &Opts, go: Option<&GoBench>) -> Vec<Server> {
    let me = std::env::current_exe().expect("current_exe");
    // 0: tokio's current_thread runtime; N: multi_thread with N workers.
    let workers = if o.procs > 1 { o.procs.to_string() } else { "0".into() };
    let mut v = Vec::new();
    for &k in &o.servers {
        let s = match k {
            Kind::Floor => {
                Server { kind: k, program: me.clone(), args: vec!["echo-floor".into()], addr_flag: true, env: vec![] }
            }
            Kind::FloorShort => Server {
                kind: k,
                program: me.clone(),
                args: vec!["echo-floor".into(), "--short-read".into()],
                addr_flag: true,
                env: vec![],
            },
            Kind::Tokio => Server {
                kind: k,
                program: me.clone(),
                args: vec!["echo-tokio".into(), "--workers".into(), workers.clone()],
                addr_flag: true,
                env: vec![],
            },
            Kind::Go => match go {
                Some(g) => Server {
                    kind: k,
                    program: g.bin.clone(),
                    args: vec!["echo".into()],
                    addr_flag: false,
                    env: vec![("GOMAXPROCS", o.procs.to_string())],
                },
                None => {
                    println!("Go: not available, Go echo server skipped");
                    continue;
                }
            },
            Kind::Goro => match goro_echo() {
                Ok(bin) => Server {
                    kind: k,
                    program: bin,
                    args: vec![],
                    addr_flag: true,
                    env: vec![("GORO_PROCS", o.procs.to_string())],
                },
                Err(e) => {
                    println!("goro: echo server skipped: {e}");
                    continue;
                }
            },
        };
        v.push(s);
    }
    v
}

// ------------------------------------------------------------- processes

/// A child process that is killed (SIGKILL) and reaped when dropped, so
/// every exit path of the harness, a panic included, cleans up.
struct Proc {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Proc {
    fn spawn(mut cmd: Command, cpus: &[usize], stdin: bool) -> Result<(Proc, Receiver<String>), String> {
        sys::child_setup(&mut cmd, cpus);
        cmd.stdin(if stdin { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("spawn {:?}: {e}", cmd.get_program()))?;
        // stdout: lines to a channel (the reader ends when the child does).
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                // Once nobody listens, keep draining so the child never
                // blocks on a full pipe.
                let _ = tx.send(line);
            }
        });
        // stderr: keep the last 16 KiB for error reports.
        let stderr = Arc::new(Mutex::new(String::new()));
        let (mut err, keep) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            let mut b = [0u8; 4096];
            while let Ok(n) = err.read(&mut b) {
                if n == 0 {
                    break;
                }
                let mut s = keep.lock().unwrap();
                s.push_str(&String::from_utf8_lossy(&b[..n]));
                if s.len() > 16384 {
                    let cut = s.len() - 16384;
                    let cut = (cut..s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(s.len());
                    s.drain(..cut);
                }
            }
        });
        Ok((Proc { child, stderr }, rx))
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stdin(&mut self) -> &mut ChildStdin {
        self.child.stdin.as_mut().expect("stdin piped")
    }

    fn stderr_tail(&self, lines: usize) -> String {
        tail(&self.stderr.lock().unwrap(), lines)
    }

    /// Waits up to `d` for the process to exit.
    fn wait_for(&mut self, d: Duration) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + d;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("       | {l}\n")).collect()
}

/// A free loopback port (the kernel's pick; released for the server).
fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// Starts `s` on a fresh port; returns it with the address it printed.
fn start_server(s: &Server, cpus: &[usize], procs: usize) -> Result<(Proc, String), String> {
    let addr = format!("127.0.0.1:{}", free_port()?);
    let (mut p, rx) = Proc::spawn(s.command(&addr), cpus, false)?;
    let line = match rx.recv_timeout(SERVER_START) {
        Ok(l) => l,
        Err(_) => {
            let st = p.exited().map_or("still running".to_string(), |st| st.to_string());
            return Err(format!(
                "{} did not print `listening on ADDR` within {SERVER_START:?} ({st})\n{}",
                s.kind.name(),
                indent(&p.stderr_tail(8))
            ));
        }
    };
    let Some(rest) = line.strip_prefix("listening on ") else {
        return Err(format!("{}: first line is {line:?}, want `listening on ADDR`", s.kind.name()));
    };
    let printed = rest.split_whitespace().next().unwrap_or("").to_string();
    if s.kind == Kind::Go && !rest.contains(&format!("procs={procs}")) {
        return Err(format!("Go echo server does not run with GOMAXPROCS={procs}: {line:?}"));
    }
    // Use the printed address when it is a concrete loopback one.
    let addr = match printed.parse::<std::net::SocketAddr>() {
        Ok(a) if a.ip().is_loopback() && a.port() != 0 => printed,
        _ => addr,
    };
    Ok((p, addr))
}

// ------------------------------------------------------------- one run

#[derive(Clone, Copy, Default)]
struct RunResult {
    rps: f64,
    /// Server CPU (user+system, all threads) per round trip, microseconds.
    cpu_rt_us: f64,
    p50_us: f64,
    p99_us: f64,
    /// Client CPU time / wall time of the window.
    client_util: f64,
    /// The server's user-space share of its CPU time (the rest is system
    /// time: the kernel's work for its system calls and its sockets).
    srv_user: f64,
    /// CPU use of everything else on the machine during the window, in
    /// CPUs (busy time from /proc/stat minus server and client).
    other: f64,
    /// Which repetition (round of every server) it belongs to.
    rep: usize,
}

struct Ctx {
    me: PathBuf,
    /// CPUs the server may run on, and the client (empty: not pinned).
    srv_cpus: Vec<usize>,
    cli_cpus: Vec<usize>,
    procs: usize,
}

fn client_cmd(ctx: &Ctx, addr: &str, conns: usize, size: usize, secs: f64, warmup: f64, pid: u32) -> Command {
    let mut c = Command::new(&ctx.me);
    c.arg("echo-client").args(["--addr", addr]);
    c.args(["--conns", &conns.to_string(), "--size", &size.to_string()]);
    c.args(["--secs", &secs.to_string(), "--warmup", &warmup.to_string(), "--server-pid", &pid.to_string()]);
    c
}

fn run_once(ctx: &Ctx, s: &Server, conns: usize, size: usize, o: &Opts) -> Result<RunResult, String> {
    let (mut srv, addr) = start_server(s, &ctx.srv_cpus, ctx.procs)?;
    let cmd = client_cmd(ctx, &addr, conns, size, o.secs, o.warmup, srv.pid());
    let (mut cli, out) = Proc::spawn(cmd, &ctx.cli_cpus, false)?;
    let limit = Duration::from_secs_f64(o.secs + o.warmup + 25.0);
    let fail = |what: String, cli: &Proc, srv: &mut Proc| {
        let st = srv.exited().map_or(String::new(), |st| format!(" (server exited: {st})"));
        format!(
            "{what}{st}\n       client stderr:\n{}       server stderr:\n{}",
            indent(&cli.stderr_tail(5)),
            indent(&srv.stderr_tail(5))
        )
    };
    let Some(st) = cli.wait_for(limit) else {
        return Err(fail(format!("client still running after {limit:?}"), &cli, &mut srv));
    };
    if !st.success() {
        return Err(fail(format!("client failed: {st}"), &cli, &mut srv));
    }
    if let Some(st) = srv.exited() {
        return Err(fail(format!("server died during the run: {st}"), &cli, &mut srv));
    }
    let line = out.recv_timeout(Duration::from_secs(2)).map_err(|_| "client printed nothing".to_string())?;
    let kv = parse_kv(&line);
    let get = |k: &str| kv.get(k).and_then(|v| v.parse::<f64>().ok()).ok_or_else(|| format!("no {k} in {line:?}"));
    let (rt, secs) = (get("rt")?, get("secs")?);
    if rt < 1.0 {
        return Err(format!("no round trip in the window: {line}"));
    }
    let idle = get("idle_conns")?;
    if idle > 0.0 {
        println!("  !! {}: {idle} of {conns} connections got no round trip in the window", s.kind.name());
    }
    Ok(RunResult {
        rps: rt / secs,
        cpu_rt_us: get("srv_cpu_us")? / rt,
        p50_us: get("p50_ns")? / 1e3,
        p99_us: get("p99_ns")? / 1e3,
        client_util: get("client_cpu_us")? / (secs * 1e6),
        srv_user: get("srv_user_us")? / get("srv_cpu_us")?.max(1.0),
        other: ((get("machine_busy_us")? - get("srv_cpu_us")? - get("client_cpu_us")?) / (secs * 1e6)).max(0.0),
        rep: 0, // set by the caller
    })
}

// ------------------------------------------ system-call counting runs

/// One counting run: round trips, system calls, and (strace only) the
/// calls by name.
struct CountResult {
    rt: u64,
    total: u64,
    /// (syscall, calls), most frequent first; empty for perf.
    calls: Vec<(String, u64)>,
}

/// Parses `strace -c` output by the columns of its dashed rule.
fn parse_strace(text: &str) -> Result<(u64, Vec<(String, u64)>), String> {
    let lines: Vec<&str> = text.lines().collect();
    let h = lines.iter().position(|l| l.contains("calls") && l.contains("syscall")).ok_or("no strace -c header")?;
    let rule = lines.get(h + 1).ok_or("no rule")?;
    let mut spans = Vec::new();
    let mut start = None;
    for (i, ch) in rule.char_indices().chain([(rule.len(), ' ')]) {
        match (ch == '-', start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    let col = |name: &str| {
        spans.iter().position(|&(a, b)| lines[h].get(a..b.min(lines[h].len())).is_some_and(|t| t.trim() == name))
    };
    let ci = col("calls").ok_or("no calls column")?;
    let (mut calls, mut total) = (Vec::new(), None);
    for l in &lines[h + 2..] {
        if l.trim().is_empty() || l.trim_start().starts_with('-') {
            continue;
        }
        let (a, b) = spans[ci];
        let n: u64 = l.get(a..b.min(l.len())).map(str::trim).unwrap_or("").parse().unwrap_or(0);
        let name = l.get(spans[spans.len() - 1].0..).map(str::trim).unwrap_or("").to_string();
        if name == "total" {
            total = Some(n);
        } else if !name.is_empty() {
            calls.push((name, n));
        }
    }
    calls.sort_by_key(|c| std::cmp::Reverse(c.1));
    let total = total.unwrap_or_else(|| calls.iter().map(|c| c.1).sum());
    Ok((total, calls))
}

/// True once every thread of `pid` is traced.
fn all_traced(pid: u32) -> bool {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return false };
    let mut any = false;
    for t in dir.flatten() {
        let st = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
        let tracer = st.lines().find_map(|l| l.strip_prefix("TracerPid:")).map(str::trim).unwrap_or("0");
        if tracer == "0" {
            return false;
        }
        any = true;
    }
    any
}

/// How system calls are counted.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Counter {
    /// `strace -c -f -p PID`: per call, but slowing each one down.
    Strace,
    /// `perf stat -e raw_syscalls:sys_enter -p PID`: the total only, at
    /// about the server's normal speed.
    Perf,
}

impl Counter {
    /// The counting command, as shown in the output (`PID` for the pid).
    fn shown(self) -> &'static str {
        match self {
            Counter::Strace => "strace -c -f -p PID",
            Counter::Perf => "perf stat -e raw_syscalls:sys_enter -p PID",
        }
    }

    /// The counting command for server `pid`, writing its table to `out`.
    fn command(self, pid: u32, out: &Path) -> Command {
        let pid = pid.to_string();
        let mut c = match self {
            Counter::Strace => {
                let mut c = Command::new("strace");
                c.args(["-c", "-f", "-p", &pid]);
                c
            }
            Counter::Perf => {
                let mut c = Command::new("perf");
                c.args(["stat", "-x,", "-e", "raw_syscalls:sys_enter", "-p", &pid]);
                c
            }
        };
        c.arg("-o").arg(out);
        c
    }

    /// Whether the tool is here and can count (else why not).
    fn usable(self) -> Result<(), String> {
        match self {
            Counter::Strace => {
                match Command::new("strace").arg("-V").stdout(Stdio::null()).stderr(Stdio::null()).status() {
                    Ok(s) if s.success() => Ok(()),
                    _ => Err("strace not available (`apt-get install -y strace`)".into()),
                }
            }
            Counter::Perf => perf_usable().map_err(|e| format!("perf cannot count system calls here: {e}")),
        }
    }
}

/// Parses `perf stat -x,` output: the count of the `raw_syscalls:sys_enter` line.
fn parse_perf_stat(text: &str) -> Result<u64, String> {
    let line = text
        .lines()
        .find(|l| l.contains("raw_syscalls:sys_enter"))
        .ok_or_else(|| format!("no raw_syscalls:sys_enter line in perf output {text:?}"))?;
    let field = line.split(',').next().unwrap_or("").trim();
    field.parse().map_err(|_| {
        format!("perf counted {field:?} (tracepoint not readable? needs root or perf_event_paranoid <= -1)")
    })
}

/// Whether `perf stat` can count the syscall tracepoint here.
fn perf_usable() -> Result<(), String> {
    let out = Command::new("perf")
        .args(["stat", "-x,", "-e", "raw_syscalls:sys_enter", "--", "true"])
        .stdout(Stdio::null())
        .output()
        .map_err(|e| format!("perf: {e} (`apt-get install -y linux-perf`)"))?;
    parse_perf_stat(&String::from_utf8_lossy(&out.stderr)).map(|_| ())
}

fn count_once(ctx: &Ctx, s: &Server, out_file: &Path, how: Counter) -> Result<CountResult, String> {
    let (srv, addr) = start_server(s, &ctx.srv_cpus, ctx.procs)?;
    let mut cmd = client_cmd(ctx, &addr, STRACE_CONNS, STRACE_SIZE, 1.0, STRACE_WARMUP, srv.pid());
    cmd.arg("--control");
    let (mut cli, out) = Proc::spawn(cmd, &ctx.cli_cpus, true)?;
    let ready = out
        .recv_timeout(Duration::from_secs(25))
        .map_err(|_| format!("client not ready\n       client stderr:\n{}", indent(&cli.stderr_tail(5))))?;
    if ready != "ready" {
        return Err(format!("client said {ready:?}, want `ready`"));
    }
    let _ = std::fs::remove_file(out_file);
    let (mut counter, _) = Proc::spawn(how.command(srv.pid(), out_file), &[], false)?;
    let t = Instant::now();
    if how == Counter::Perf {
        // perf stat has no "attached" signal; it attaches to every thread
        // at once, well within this. Counting a little idle time costs
        // nothing: the server makes no calls while idle but its sleeps.
        std::thread::sleep(Duration::from_millis(300));
    }
    while how == Counter::Strace && !all_traced(srv.pid()) {
        if let Some(e) = counter.exited() {
            return Err(format!("strace exited ({e}):\n{}", indent(&counter.stderr_tail(5))));
        }
        if t.elapsed() > Duration::from_secs(5) {
            return Err("strace did not attach to every server thread within 5 s".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if let Some(e) = counter.exited() {
        return Err(format!("the counter exited early ({e}):\n{}", indent(&counter.stderr_tail(5))));
    }
    let tell = |cli: &mut Proc, what: &[u8]| {
        cli.stdin()
            .write_all(what)
            .and_then(|_| cli.stdin().flush())
            .map_err(|e| format!("client stdin: {e}\n       client stderr:\n{}", indent(&cli.stderr_tail(5))))
    };
    tell(&mut cli, b"go\n")?;
    std::thread::sleep(Duration::from_secs_f64(STRACE_SECS));
    // The client stops sending, waits for every echo in flight and reports;
    // then the server is idle, and strace can detach.
    tell(&mut cli, b"stop\n")?;
    let line = out
        .recv_timeout(Duration::from_secs(10))
        .map_err(|_| format!("client printed no result\n       client stderr:\n{}", indent(&cli.stderr_tail(5))))?;
    sys::kill(counter.pid(), libc::SIGINT);
    if counter.wait_for(Duration::from_secs(10)).is_none() {
        return Err("the counter did not exit within 10 s of SIGINT".into());
    }
    drop(cli); // the client kept its connections open until now
    let kv = parse_kv(&line);
    let rt: u64 = kv.get("rt").and_then(|v| v.parse().ok()).ok_or_else(|| format!("no rt in {line:?}"))?;
    let text = std::fs::read_to_string(out_file).map_err(|e| format!("{}: {e}", out_file.display()))?;
    let (total, calls) = match how {
        Counter::Strace => parse_strace(&text)?,
        Counter::Perf => (parse_perf_stat(&text)?, Vec::new()),
    };
    if rt == 0 {
        return Err("no round trip while traced".into());
    }
    Ok(CountResult { rt, total, calls })
}

// ------------------------------------------------------------ the bench

#[derive(Default)]
struct Point {
    conns: usize,
    size: usize,
    /// Per server: the repetitions' results.
    runs: HashMap<Kind, Vec<RunResult>>,
}

#[derive(Clone, Copy)]
struct Med {
    rps: f64,
    rps_spread: f64,
    cpu: f64,
    cpu_spread: f64,
    p50: f64,
    p99: f64,
    client: f64,
    user: f64,
    other: f64,
}

impl Point {
    fn med(&self, k: Kind) -> Option<Med> {
        let v = self.runs.get(&k).filter(|v| !v.is_empty())?;
        let col = |f: fn(&RunResult) -> f64| -> (f64, f64) {
            let mut x: Vec<f64> = v.iter().map(f).collect();
            let m = median(&mut x);
            let spread = (x[x.len() - 1] - x[0]) / 2.0 / m;
            (m, spread)
        };
        let (rps, rps_spread) = col(|r| r.rps);
        let (cpu, cpu_spread) = col(|r| r.cpu_rt_us);
        Some(Med {
            rps,
            rps_spread,
            cpu,
            cpu_spread,
            p50: col(|r| r.p50_us).0,
            p99: col(|r| r.p99_us).0,
            client: col(|r| r.client_util).0,
            user: col(|r| r.srv_user).0,
            other: col(|r| r.other).0,
        })
    }
}

impl Point {
    /// `a / b` of `f`, paired by round: the median of the per-round
    /// ratios. The servers of one round run back to back, so this cancels
    /// machine-wide drift (the shared machine switches between fast and
    /// slow spells lasting seconds to minutes) that a ratio of medians
    /// keeps.
    fn paired(&self, a: Kind, b: Kind, f: fn(&RunResult) -> f64) -> Option<f64> {
        let (ra, rb) = (self.runs.get(&a)?, self.runs.get(&b)?);
        let mut x: Vec<f64> = ra
            .iter()
            .filter_map(|x| rb.iter().find(|y| y.rep == x.rep).filter(|y| f(y) > 0.0).map(|y| f(x) / f(y)))
            .collect();
        (!x.is_empty()).then(|| median(&mut x))
    }
}

/// 1234567.8 -> "1,234,568".
fn thousands(x: f64) -> String {
    let s = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.3}", a / b),
        _ => "-".into(),
    }
}

pub fn bench(o: &Opts, go: Option<&GoBench>) {
    let t_all = Instant::now();
    sys::raise_nofile();
    if o.procs == 1 {
        println!("== echo servers: closed-loop round trips on 127.0.0.1");
    } else {
        println!(
            "== echo servers, {0} Ps: closed-loop round trips on 127.0.0.1 \
             (goro GORO_PROCS={0}, Go GOMAXPROCS={0}, tokio multi_thread with {0} workers, floor single-threaded)",
            o.procs
        );
    }
    let servers = servers(o, go);
    let cpus = sys::allowed_cpus();
    let (srv_cpus, cli_cpus) =
        if cpus.len() >= 2 { (cpus[..o.procs.min(cpus.len())].to_vec(), vec![cpus[1]]) } else { (vec![], vec![]) };
    let list = |v: &[usize]| v.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(",");
    match (&srv_cpus[..], &cli_cpus[..]) {
        ([s], [c]) => println!("  server pinned to CPU {s}, load generator to CPU {c}"),
        ([_, ..], [c]) => {
            println!(
                "  server allowed on CPUs {} (not pinned to one), load generator pinned to CPU {c}",
                list(&srv_cpus)
            );
            println!(
                "  note: the load generator's CPU is one of the server's; on a {}-CPU machine client and \
                 server share a core, so rt/s are client-bound; server CPU per round trip is the meaningful figure",
                cpus.len()
            );
        }
        _ => println!("  !! fewer than 2 CPUs available: server and client not pinned"),
    }
    if o.procs > 1 && cpus.len() < o.procs {
        println!("  !! only {} CPU(s) available for {} Ps", cpus.len(), o.procs);
    }
    println!(
        "  {} run(s) per point and server, {:.1} s measured after {:.1} s warm-up; medians; \
         server order rotated per run",
        o.reps, o.secs, o.warmup
    );
    println!("  servers: {}", servers.iter().map(|s| s.kind.name()).collect::<Vec<_>>().join(", "));
    if servers.is_empty() {
        return;
    }
    let ctx = Ctx { me: std::env::current_exe().expect("current_exe"), srv_cpus, cli_cpus, procs: o.procs };

    let mut points = Vec::new();
    for &conns in &o.conns {
        for &size in &o.sizes {
            let mut p = Point { conns, size, ..Default::default() };
            let mut failures: HashMap<Kind, usize> = HashMap::new();
            let t = Instant::now();
            for rep in 0..o.reps {
                for i in 0..servers.len() {
                    let s = &servers[(i + rep) % servers.len()];
                    if failures.get(&s.kind).copied().unwrap_or(0) >= 2 {
                        continue;
                    }
                    match run_once(&ctx, s, conns, size, o) {
                        Ok(r) => p.runs.entry(s.kind).or_default().push(RunResult { rep, ..r }),
                        Err(e) => {
                            *failures.entry(s.kind).or_default() += 1;
                            println!("  !! {} at {conns} conns x {size} B, run {}: {e}", s.kind.name(), rep + 1);
                        }
                    }
                }
            }
            print_point(&p, &servers, t.elapsed());
            points.push(p);
        }
    }

    let mut sys = Syscalls::default();
    if o.strace {
        sys.perf = count_all(&ctx, &servers, Counter::Perf);
        sys.strace = count_all(&ctx, &servers, Counter::Strace);
    }
    print_summary(&points, &servers, &sys, o);
    println!("\necho bench time: {:.1} s", t_all.elapsed().as_secs_f64());
}

fn print_point(p: &Point, servers: &[Server], took: Duration) {
    println!("\n-- {} connection(s) x {} B messages  ({:.0} s)", p.conns, p.size, took.as_secs_f64());
    println!(
        "  {:<11} {:>9} {:>6} {:>9} {:>6} {:>8} {:>8} {:>7} {:>6} {:>9} {:>6} {:>8}",
        "server",
        "rt/s",
        "±",
        "CPU/rt us",
        "±",
        "p50 us",
        "p99 us",
        "client",
        "other",
        "CPU/floor",
        "rt/Go",
        "rt/tokio"
    );
    let floor = p.med(Kind::Floor);
    let go = p.med(Kind::Go);
    let tokio = p.med(Kind::Tokio);
    for s in servers {
        let Some(m) = p.med(s.kind) else {
            println!("  {:<11} (no successful run)", s.kind.name());
            continue;
        };
        let sat = if m.client >= CLIENT_SATURATED { "*" } else { " " };
        println!(
            "  {:<11} {:>9} {:>5.1}% {:>9.3} {:>5.1}% {:>8.1} {:>8.1} {:>5.0}%{sat} {:>5.0}% {:>9} {:>6} {:>8}",
            s.kind.name(),
            thousands(m.rps),
            m.rps_spread * 100.0,
            m.cpu,
            m.cpu_spread * 100.0,
            m.p50,
            m.p99,
            m.client * 100.0,
            m.other * 100.0,
            ratio(Some(m.cpu), floor.map(|f| f.cpu)),
            ratio(Some(m.rps), go.map(|g| g.rps)),
            ratio(Some(m.rps), tokio.map(|t| t.rps)),
        );
    }
    let other = servers.iter().filter_map(|s| p.med(s.kind)).map(|m| m.other).fold(0.0, f64::max);
    if other >= OTHER_BUSY {
        println!(
            "  !! other processes used up to {:.0}% of a CPU during these runs (column `other`): \
             the machine was not quiet, so these figures are disturbed",
            other * 100.0
        );
    }
    if servers.iter().filter_map(|s| p.med(s.kind)).any(|m| m.client >= CLIENT_SATURATED) {
        println!(
            "  * load generator at >= {:.0}% of its CPU: rt/s may be limited by the client, not the server \
             (a server that batches less also costs the client more per round trip)",
            CLIENT_SATURATED * 100.0
        );
    }
}

fn count_all(ctx: &Ctx, servers: &[Server], how: Counter) -> HashMap<Kind, f64> {
    let mut res = HashMap::new();
    println!("\n-- system calls per round trip ({STRACE_CONNS} connections x {STRACE_SIZE} B, {})", how.shown());
    if let Err(e) = how.usable() {
        println!("  {e}: skipped");
        return res;
    }
    let exe = &ctx.me;
    let out_file = exe.parent().unwrap_or(Path::new("/tmp")).join("goro-bench-syscalls.txt");
    for s in servers {
        match count_once(ctx, s, &out_file, how) {
            Ok(r) => {
                let per = r.total as f64 / r.rt as f64;
                let top: Vec<String> = r
                    .calls
                    .iter()
                    .filter(|(_, n)| *n as f64 / r.rt as f64 >= 0.005)
                    .map(|(name, n)| format!("{name} {:.2}", *n as f64 / r.rt as f64))
                    .collect();
                let detail = if top.is_empty() { String::new() } else { format!("; {}", top.join(", ")) };
                println!("  {:<11} {per:6.2} syscalls/rt  ({} calls / {} rt{detail})", s.kind.name(), r.total, r.rt);
                res.insert(s.kind, per);
            }
            Err(e) => println!("  !! {}: counting run failed: {e}", s.kind.name()),
        }
    }
    let _ = std::fs::remove_file(&out_file);
    res
}

/// System calls per round trip by server, as each counter saw them.
#[derive(Default)]
struct Syscalls {
    perf: HashMap<Kind, f64>,
    strace: HashMap<Kind, f64>,
}

fn print_summary(points: &[Point], servers: &[Server], sys: &Syscalls, o: &Opts) {
    let have = |k: Kind| servers.iter().any(|s| s.kind == k);
    let names: Vec<Kind> = Kind::ALL.into_iter().filter(|&k| have(k)).collect();
    let cell = |v: Option<f64>, prec: usize| v.map_or("-".to_string(), |x| format!("{x:.prec$}"));
    let ps = if o.procs > 1 { format!(", {} Ps", o.procs) } else { String::new() };
    println!("\n== echo summary (medians of {} run(s){ps})", o.reps);
    print!("  {:<16}", "server CPU us/rt");
    names.iter().for_each(|k| print!(" {:>9}", k.name()));
    println!(" {:>11}", "goro/floor");
    for p in points {
        print!("  {:<16}", format!("{} x {} B", p.conns, p.size));
        names.iter().for_each(|&k| print!(" {:>9}", cell(p.med(k).map(|m| m.cpu), 3)));
        println!(" {:>11}", ratio(p.med(Kind::Goro).map(|m| m.cpu), p.med(Kind::Floor).map(|m| m.cpu)));
    }
    print!("  {:<16}", "round trips/s");
    names.iter().for_each(|k| print!(" {:>9}", k.name()));
    println!(" {:>11} {:>10}", "goro/Go", "goro/tokio");
    for p in points {
        print!("  {:<16}", format!("{} x {} B", p.conns, p.size));
        names.iter().for_each(|&k| print!(" {:>9}", p.med(k).map_or("-".into(), |m| thousands(m.rps))));
        let g = p.med(Kind::Goro).map(|m| m.rps);
        println!(
            " {:>11} {:>10}",
            ratio(g, p.med(Kind::Go).map(|m| m.rps)),
            ratio(g, p.med(Kind::Tokio).map(|m| m.rps))
        );
    }
    // A percentage per point and server.
    let percents = |title: &str, f: fn(&Med) -> f64, prec: usize| {
        print!("  {title:<16}");
        names.iter().for_each(|k| print!(" {:>9}", k.name()));
        println!();
        for p in points {
            print!("  {:<16}", format!("{} x {} B", p.conns, p.size));
            names.iter().for_each(|&k| print!(" {:>9}", cell(p.med(k).map(|m| f(&m) * 100.0), prec)));
            println!();
        }
    };
    percents("client CPU %", |m| m.client, 0);
    percents("server user %", |m| m.user, 1);
    println!(
        "  (user-space share of the server's CPU time; the rest is the kernel's work for its system calls. \
         goro's includes the poller's spin, benches/README.md)"
    );
    println!("  paired by round (median of per-round ratios; see benches/README.md)");
    println!("  {:<16} {:>11} {:>10} {:>10}", "", "CPU/floor", "rt/Go", "rt/tokio");
    for p in points {
        let pr = |b: Kind, f: fn(&RunResult) -> f64| cell(p.paired(Kind::Goro, b, f), 3);
        println!(
            "  {:<16} {:>11} {:>10} {:>10}",
            format!("{} x {} B", p.conns, p.size),
            pr(Kind::Floor, |r| r.cpu_rt_us),
            pr(Kind::Go, |r| r.rps),
            pr(Kind::Tokio, |r| r.rps)
        );
    }
    for (m, how) in [(&sys.perf, "perf stat"), (&sys.strace, "under strace")] {
        if !m.is_empty() {
            print!("  {:<16}", "syscalls/rt");
            names.iter().for_each(|&k| print!(" {:>9}", cell(m.get(&k).copied(), 2)));
            println!("   ({STRACE_CONNS} x {STRACE_SIZE} B, {how})");
        }
    }

    println!("\n== echo targets{}", if o.procs > 1 { format!(" ({} Ps)", o.procs) } else { String::new() });
    let cpu_target = if o.procs > 1 { CPU_VS_FLOOR_TARGET_2P } else { CPU_VS_FLOOR_TARGET };
    // n/a: goro (or what it is compared with) was not run; a goro that ran
    // but has no figure failed, which is a MISS.
    let verdict = |ok: Option<bool>, goro_failed: bool| match (ok, goro_failed) {
        (Some(true), _) => "PASS",
        (Some(false), _) => "MISS",
        (None, true) => "MISS (goro failed)",
        (None, false) if !have(Kind::Goro) => "n/a (goro not run)",
        (None, false) => "n/a",
    };
    for p in points.iter().filter(|p| p.conns >= 100) {
        let g = p.med(Kind::Goro);
        let r = match (g, p.med(Kind::Floor)) {
            (Some(g), Some(f)) => Some(g.cpu / f.cpu),
            _ => None,
        };
        println!(
            "  goro server CPU/rt <= {cpu_target:.2} x floor   {:>5} x {:>3} B: {:>6}  {}  (paired {})",
            p.conns,
            p.size,
            r.map_or("-".into(), |r| format!("{r:.3}")),
            verdict(r.map(|r| r <= cpu_target), have(Kind::Goro) && g.is_none()),
            cell(p.paired(Kind::Goro, Kind::Floor, |r| r.cpu_rt_us), 3)
        );
    }
    let mut client_bound = false;
    for p in points {
        let g = p.med(Kind::Goro);
        let others: Vec<Med> = [Kind::Go, Kind::Tokio].into_iter().filter_map(|k| p.med(k)).collect();
        let ok = g.filter(|_| !others.is_empty()).map(|g| others.iter().all(|o| g.rps >= o.rps));
        // Every server of the comparison saturated the load generator.
        let bound = g.is_some_and(|g| {
            g.client >= CLIENT_SATURATED && !others.is_empty() && others.iter().all(|o| o.client >= CLIENT_SATURATED)
        });
        client_bound |= bound;
        let rps = |k: Kind| p.med(k).map(|m| m.rps);
        println!(
            "  goro rt/s >= Go and tokio         {:>5} x {:>3} B: goro/Go {:>6}, goro/tokio {:>6}  {}{}  (paired {}, {})",
            p.conns,
            p.size,
            ratio(rps(Kind::Goro), rps(Kind::Go)),
            ratio(rps(Kind::Goro), rps(Kind::Tokio)),
            verdict(ok, have(Kind::Goro) && g.is_none()),
            if bound { " *" } else { "" },
            cell(p.paired(Kind::Goro, Kind::Go, |r| r.rps), 3),
            cell(p.paired(Kind::Goro, Kind::Tokio, |r| r.rps), 3)
        );
    }
    if o.strace {
        // The verdict takes the perf count (the server at its normal speed)
        // when there is one; strace's is shown beside it.
        let (pf, st) = (sys.perf.get(&Kind::Goro).copied(), sys.strace.get(&Kind::Goro).copied());
        let s = pf.or(st);
        println!(
            "  goro syscalls/rt <= {SYSCALLS_TARGET:.2}          {STRACE_CONNS:>5} x {STRACE_SIZE:>3} B: {:>6}  {}  ({}; under strace {})",
            cell(s, 2),
            verdict(s.map(|s| s <= SYSCALLS_TARGET), have(Kind::Goro) && s.is_none()),
            if pf.is_some() { "perf stat" } else { "no perf count" },
            cell(st, 2)
        );
    }
    if client_bound {
        println!(
            "  * goro and the servers it is compared with all kept the load generator >= {:.0}% busy: \
             these rt/s may be the client's limit more than the servers'",
            CLIENT_SATURATED * 100.0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_perf_stat, parse_strace};

    #[test]
    fn perf_stat_count() {
        let t = "# started on Sun Nov 29 10:23:38 2026\n\n109,,raw_syscalls:sys_enter,867407,100.00,,\n";
        assert_eq!(parse_perf_stat(t), Ok(109));
        assert!(parse_perf_stat("<not counted>,,raw_syscalls:sys_enter,0,0.00,,\n").is_err());
        assert!(parse_perf_stat("# started\n").is_err());
    }

    #[test]
    fn strace_table() {
        let t = "\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 60.00    0.000600           2       300           write
 39.00    0.000390           1       400       100 read
  1.00    0.000010           1        10           epoll_wait
------ ----------- ----------- --------- --------- ----------------
100.00    0.001000                   710       100 total
";
        let (total, calls) = parse_strace(t).unwrap();
        assert_eq!(total, 710);
        assert_eq!(calls[0], ("read".to_string(), 400));
        assert_eq!(calls.len(), 3);
    }
}
