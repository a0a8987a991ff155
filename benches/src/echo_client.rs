//! The echo benchmark's load generator: one thread, edge-triggered epoll.
//!
//! `goro-bench echo-client --addr A --conns N --size S --secs D --warmup W
//! [--server-pid P] [--control]`
//!
//! Every connection runs a closed loop with one message in flight: send S
//! bytes, wait until all S bytes have come back (checked byte for byte),
//! send again. The first `W` seconds are warm-up; the next `D` seconds are
//! measured: round trips completed, latency (send to full echo) in a
//! log-linear histogram, this process's CPU time (getrusage), and, given
//! `--server-pid`, the server's utime+stime from /proc/PID/stat over the
//! same window. Prints one line of key=value pairs on stdout.
//!
//! With `--control` the window is set by the harness instead: after the
//! warm-up the client prints `ready`, starts the window on a `go` line on
//! stdin and ends it on a `stop` line (used for the strace run, whose attach
//! and detach the harness controls). Before `ready` and after `stop` it lets
//! the messages in flight finish, so the window holds whole round trips
//! only, and after its report it keeps the connections open until stdin
//! closes. Every phase has a deadline.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::IntoRawFd;
use std::time::{Duration, Instant};

use crate::sys;

/// Time allowed to open all connections.
const CONNECT_BUDGET: Duration = Duration::from_secs(15);
/// A measured window with no round trip at all for this long is an error.
const STALL: Duration = Duration::from_secs(5);
/// Upper bound on a `--control` run waiting for `go` / `stop`.
const CONTROL_MAX: Duration = Duration::from_secs(60);
/// epoll data value of stdin in `--control` mode.
const STDIN_TOKEN: u64 = u64::MAX;

struct Opts {
    addr: SocketAddr,
    conns: usize,
    size: usize,
    secs: f64,
    warmup: f64,
    server_pid: Option<u32>,
    control: bool,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        addr: "127.0.0.1:0".parse().unwrap(),
        conns: 1,
        size: 64,
        secs: 2.0,
        warmup: 0.5,
        server_pid: None,
        control: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--addr" => o.addr = val()?.parse().map_err(|e| format!("--addr: {e}"))?,
            "--conns" => o.conns = val()?.parse().map_err(|e| format!("--conns: {e}"))?,
            "--size" => o.size = val()?.parse().map_err(|e| format!("--size: {e}"))?,
            "--secs" => o.secs = val()?.parse().map_err(|e| format!("--secs: {e}"))?,
            "--warmup" => o.warmup = val()?.parse().map_err(|e| format!("--warmup: {e}"))?,
            "--server-pid" => o.server_pid = Some(val()?.parse().map_err(|e| format!("--server-pid: {e}"))?),
            "--control" => o.control = true,
            "-h" | "--help" => {
                println!(
                    "usage: goro-bench echo-client --addr A [--conns N] [--size BYTES] [--secs S] [--warmup S] \
                     [--server-pid PID] [--control]   (see benches/README.md)"
                );
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument {a} (--help for usage)")),
        }
    }
    // A connection writes its whole message before it reads the echo, so
    // the message must fit in the socket buffers: 1 MiB at most.
    if o.conns == 0
        || o.size == 0
        || o.size > 1 << 20
        || !(o.secs > 0.0 && o.secs <= 600.0)
        || !(0.0..=60.0).contains(&o.warmup)
    {
        return Err("need --conns >= 1, 1 <= --size <= 1048576, 0 < --secs <= 600, 0 <= --warmup <= 60".into());
    }
    if !o.addr.ip().is_loopback() {
        return Err(format!("{}: the load generator only targets loopback addresses", o.addr));
    }
    Ok(o)
}

pub fn main(args: &[String]) -> i32 {
    let opts = parse(args);
    match opts.as_ref().map_err(Clone::clone).and_then(run) {
        Ok(line) => {
            println!("{line}");
            if opts.is_ok_and(|o| o.control) {
                // Keep the connections open (their closing would add to the
                // server's traced system calls) until the harness closes
                // stdin or says anything more, at most 10 s.
                let _ = std::io::stdout().flush();
                let mut p = libc::pollfd { fd: 0, events: libc::POLLIN, revents: 0 };
                // SAFETY: `p` is one valid pollfd.
                unsafe { libc::poll(&mut p, 1, 10_000) };
            }
            0
        }
        Err(e) => {
            eprintln!("echo-client: {e}");
            1
        }
    }
}

// ---------------------------------------------------------------- histogram

/// Log-linear histogram of nanoseconds: 32 sub-buckets per power of two
/// (about 3% resolution), exact below 32 ns.
struct Hist {
    b: Vec<u64>,
    n: u64,
    sum: u128,
}

const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;

impl Hist {
    fn new() -> Hist {
        Hist { b: vec![0; (64 - SUB_BITS as usize + 1) * SUB as usize], n: 0, sum: 0 }
    }

    fn index(v: u64) -> usize {
        if v < SUB {
            return v as usize;
        }
        let e = 63 - v.leading_zeros(); // >= SUB_BITS
        let shift = e - SUB_BITS;
        (((shift + 1) as u64) << SUB_BITS) as usize + ((v >> shift) & (SUB - 1)) as usize
    }

    /// Middle of bucket `i`.
    fn value(i: usize) -> f64 {
        if (i as u64) < SUB {
            return i as f64;
        }
        let oct = (i as u64) >> SUB_BITS; // >= 1
        let m = i as u64 & (SUB - 1);
        let lo = (SUB + m) << (oct - 1);
        lo as f64 + ((1u64 << (oct - 1)) as f64 - 1.0) / 2.0
    }

    #[inline]
    fn record(&mut self, ns: u64) {
        self.b[Self::index(ns)] += 1;
        self.n += 1;
        self.sum += ns as u128;
    }

    fn percentile(&self, p: f64) -> f64 {
        if self.n == 0 {
            return 0.0;
        }
        let want = ((p * self.n as f64).ceil() as u64).clamp(1, self.n);
        let mut acc = 0;
        for (i, &c) in self.b.iter().enumerate() {
            acc += c;
            if acc >= want {
                return Self::value(i);
            }
        }
        0.0
    }
}

// ------------------------------------------------------------------ client

struct Conn {
    fd: i32,
    /// A message is in flight (being sent, or its echo awaited).
    busy: bool,
    sent: usize,
    recvd: usize,
    /// When the message in flight was sent (ns since the client's epoch).
    t_send: u64,
    /// Round trips completed in the measured window.
    rt: u64,
}

/// Snapshot of the counters at a window edge.
struct Mark {
    t: Instant,
    rt: u64,
    cpu_us: u64,
    /// The server's (user, system) CPU ticks.
    srv_ticks: Option<(u64, u64)>,
    /// Busy (incl. steal) ticks of the whole machine, from /proc/stat.
    all_ticks: Option<u64>,
}

struct Client {
    msg: Vec<u8>,
    buf: Vec<u8>,
    conns: Vec<Conn>,
    hist: Hist,
    /// Completed round trips count towards the window.
    measuring: bool,
    /// A completed round trip starts the next one (else the connection idles).
    sending: bool,
    in_flight: usize,
    total_rt: u64,
    epoch: Instant,
    server_pid: Option<u32>,
}

impl Client {
    /// Starts a message on connection `i`.
    fn start(&mut self, i: usize, now: u64) -> Result<(), String> {
        let c = &mut self.conns[i];
        if !c.busy {
            c.busy = true;
            c.sent = 0;
            c.recvd = 0;
            c.t_send = now;
            self.in_flight += 1;
        }
        self.drive(i, now)
    }

    /// Drives connection `i` as far as it goes without blocking; `now` is the
    /// timestamp of the current epoll batch.
    fn drive(&mut self, i: usize, now: u64) -> Result<(), String> {
        let size = self.msg.len();
        let c = &mut self.conns[i];
        while c.busy {
            if c.sent < size {
                let rest = &self.msg[c.sent..];
                // SAFETY: `rest` is a live slice of `msg`; write reads at most its length.
                let w = unsafe { libc::write(c.fd, rest.as_ptr() as *const libc::c_void, rest.len()) };
                if w < 0 {
                    match sys::errno() {
                        libc::EAGAIN => return Ok(()),
                        libc::EINTR => continue,
                        e => return Err(format!("conn {i}: write: {}", std::io::Error::from_raw_os_error(e))),
                    }
                }
                c.sent += w as usize;
                if c.sent == size {
                    // No read now: the echo raises an EPOLLIN edge when it
                    // arrives, which is after this write.
                    return Ok(());
                }
                continue;
            }
            // SAFETY: `buf` is valid for `buf.len()` bytes.
            let r = unsafe { libc::read(c.fd, self.buf.as_mut_ptr() as *mut libc::c_void, self.buf.len()) };
            if r < 0 {
                match sys::errno() {
                    libc::EAGAIN => return Ok(()),
                    libc::EINTR => continue,
                    e => return Err(format!("conn {i}: read: {}", std::io::Error::from_raw_os_error(e))),
                }
            }
            let r = r as usize;
            if r == 0 {
                return Err(format!("conn {i}: server closed the connection"));
            }
            if c.recvd + r > size || self.buf[..r] != self.msg[c.recvd..c.recvd + r] {
                return Err(format!("conn {i}: wrong echo ({} bytes after {} of {size})", r, c.recvd));
            }
            c.recvd += r;
            if c.recvd == size {
                if self.measuring {
                    self.hist.record(now.saturating_sub(c.t_send));
                    c.rt += 1;
                }
                self.total_rt += 1;
                c.sent = 0;
                c.recvd = 0;
                c.t_send = now;
                if !self.sending {
                    c.busy = false;
                    self.in_flight -= 1;
                }
            }
        }
        Ok(())
    }

    fn mark(&self) -> Mark {
        Mark {
            t: Instant::now(),
            rt: self.total_rt,
            cpu_us: sys::self_cpu_us(),
            srv_ticks: self.server_pid.and_then(sys::proc_cpu_ticks),
            all_ticks: sys::machine_busy_ticks(),
        }
    }
}

#[derive(PartialEq)]
enum Phase {
    Warmup,
    /// `--control`: warm-up over, waiting for the in-flight echoes.
    Quiesce,
    /// `--control`: `ready` printed, waiting for `go`.
    Ready,
    Measure,
    /// `--control`: `stop` received, waiting for the in-flight echoes.
    Drain,
}

fn run(o: &Opts) -> Result<String, String> {
    sys::raise_nofile();
    let epoch = Instant::now();

    // Open the connections one after the other (blocking connect, which
    // paces itself to the server's accept rate), then go non-blocking.
    let mut conns = Vec::with_capacity(o.conns);
    for i in 0..o.conns {
        if epoch.elapsed() > CONNECT_BUDGET {
            return Err(format!("only {i} of {} connections opened in {CONNECT_BUDGET:?}", o.conns));
        }
        let s = TcpStream::connect_timeout(&o.addr, Duration::from_secs(3))
            .map_err(|e| format!("connect #{i} to {}: {e}", o.addr))?;
        s.set_nodelay(true).map_err(|e| format!("TCP_NODELAY: {e}"))?;
        s.set_nonblocking(true).map_err(|e| format!("O_NONBLOCK: {e}"))?;
        conns.push(Conn { fd: s.into_raw_fd(), busy: false, sent: 0, recvd: 0, t_send: 0, rt: 0 });
    }

    // SAFETY: plain system calls on fds we own; `ev` outlives each call.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if ep < 0 {
        return Err(format!("epoll_create1: {}", std::io::Error::last_os_error()));
    }
    let add = |fd: i32, token: u64, events: u32| -> Result<(), String> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: see above.
        if unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) } != 0 {
            return Err(format!("epoll_ctl ADD {fd}: {}", std::io::Error::last_os_error()));
        }
        Ok(())
    };
    for (i, c) in conns.iter().enumerate() {
        add(c.fd, i as u64, (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32)?;
    }
    if o.control {
        add(0, STDIN_TOKEN, libc::EPOLLIN as u32)?;
    }

    let mut cl = Client {
        msg: (0..o.size).map(|i| b'a' + (i % 26) as u8).collect(),
        buf: vec![0; 64 * 1024],
        conns,
        hist: Hist::new(),
        measuring: false,
        sending: true,
        in_flight: 0,
        total_rt: 0,
        epoch,
        server_pid: o.server_pid,
    };
    let now_ns = |cl: &Client| Instant::now().duration_since(cl.epoch).as_nanos() as u64;

    // Every connection sends its first message.
    let t0 = Instant::now();
    let now0 = now_ns(&cl);
    for i in 0..cl.conns.len() {
        cl.start(i, now0)?;
    }

    let warm_end = t0 + Duration::from_secs_f64(o.warmup);
    let window_end = warm_end + Duration::from_secs_f64(o.secs);
    let hard_end = warm_end + CONTROL_MAX;
    let mut phase = Phase::Warmup;
    let mut start: Option<Mark> = None;
    let mut last_progress = (Instant::now(), 0u64);
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    let mut ctl_line = Vec::new();

    let end = loop {
        let now_i = Instant::now();
        // Phase changes that time or the in-flight count decide.
        if phase == Phase::Warmup && now_i >= warm_end {
            if o.control {
                cl.sending = false;
                phase = Phase::Quiesce;
            } else {
                start = Some(cl.mark());
                cl.measuring = true;
                phase = Phase::Measure;
            }
        }
        if phase == Phase::Quiesce && cl.in_flight == 0 {
            println!("ready");
            std::io::stdout().flush().map_err(|e| format!("stdout: {e}"))?;
            phase = Phase::Ready;
        }
        if phase == Phase::Measure && !o.control && now_i >= window_end {
            break cl.mark();
        }
        if phase == Phase::Drain && cl.in_flight == 0 {
            break cl.mark();
        }
        if o.control && now_i >= hard_end {
            return Err(format!("--control: not done within {CONTROL_MAX:?} of the warm-up"));
        }
        if cl.total_rt != last_progress.1 || cl.in_flight == 0 {
            last_progress = (now_i, cl.total_rt);
        } else if now_i.duration_since(last_progress.0) > STALL {
            return Err(format!("no round trip for {STALL:?} ({} done so far)", cl.total_rt));
        }

        let next_edge = match phase {
            Phase::Warmup => warm_end,
            Phase::Measure if !o.control => window_end,
            _ => hard_end,
        };
        let timeout_ms = next_edge.saturating_duration_since(now_i).as_millis().min(100) as i32;
        // SAFETY: `events` has room for its length.
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, timeout_ms) };
        if n < 0 {
            if sys::errno() == libc::EINTR {
                continue;
            }
            return Err(format!("epoll_wait: {}", std::io::Error::last_os_error()));
        }
        let now = now_ns(&cl);
        for ev in &events[..n as usize] {
            let token = ev.u64;
            if token != STDIN_TOKEN {
                cl.drive(token as usize, now)?;
                continue;
            }
            let mut b = [0u8; 64];
            // SAFETY: `b` is valid for 64 bytes.
            let r = unsafe { libc::read(0, b.as_mut_ptr() as *mut libc::c_void, b.len()) };
            if r <= 0 {
                return Err("--control: stdin closed".into());
            }
            ctl_line.extend_from_slice(&b[..r as usize]);
            while let Some(p) = ctl_line.iter().position(|&c| c == b'\n') {
                let cmd: Vec<u8> = ctl_line.drain(..=p).collect();
                match (cmd.trim_ascii(), &phase) {
                    (b"go", Phase::Ready) => {
                        start = Some(cl.mark());
                        cl.measuring = true;
                        cl.sending = true;
                        phase = Phase::Measure;
                        let now = now_ns(&cl);
                        for i in 0..cl.conns.len() {
                            cl.start(i, now)?;
                        }
                    }
                    (b"stop", Phase::Measure) => {
                        cl.sending = false;
                        phase = Phase::Drain;
                    }
                    (other, _) => {
                        return Err(format!("--control: unexpected {:?} now", String::from_utf8_lossy(other)))
                    }
                }
            }
        }
    };

    let start = start.ok_or("window never started")?;
    let secs = end.t.duration_since(start.t).as_secs_f64();
    let rt = end.rt - start.rt;
    let idle = cl.conns.iter().filter(|c| c.rt == 0).count();
    let min_rt = cl.conns.iter().map(|c| c.rt).min().unwrap_or(0);
    let max_rt = cl.conns.iter().map(|c| c.rt).max().unwrap_or(0);
    let tck = sys::clk_tck();
    let client_cpu_us = end.cpu_us - start.cpu_us;
    let mut extra = String::new();
    if let (Some(a), Some(b)) = (start.srv_ticks, end.srv_ticks) {
        let (user, system) = (b.0 - a.0, b.1 - a.1);
        let _ = write!(
            extra,
            " srv_ticks={} srv_cpu_us={} srv_user_us={}",
            user + system,
            (user + system) * 1_000_000 / tck,
            user * 1_000_000 / tck
        );
    }
    if let (Some(a), Some(b)) = (start.all_ticks, end.all_ticks) {
        let _ = write!(extra, " machine_busy_us={}", (b - a) * 1_000_000 / tck);
    }
    Ok(format!(
        "rt={rt} secs={secs:.6} rps={:.1} p50_ns={:.0} p99_ns={:.0} mean_ns={:.0} client_cpu_us={client_cpu_us} \
         conns={} size={} idle_conns={idle} min_conn_rt={min_rt} max_conn_rt={max_rt} clk_tck={tck}{extra}",
        rt as f64 / secs,
        cl.hist.percentile(0.50),
        cl.hist.percentile(0.99),
        if cl.hist.n > 0 { cl.hist.sum as f64 / cl.hist.n as f64 } else { 0.0 },
        o.conns,
        o.size,
    ))
}

#[cfg(test)]
mod tests {
    use super::Hist;

    #[test]
    fn hist_buckets_are_monotonic_and_close() {
        let mut last = 0;
        for v in (0..100_000u64).chain([1 << 20, 1 << 40, u64::MAX / 2]) {
            let i = Hist::index(v);
            assert!(i >= last);
            last = i;
            let mid = Hist::value(i);
            assert!((mid - v as f64).abs() <= v as f64 * 0.04 + 1.0, "{v} -> {i} -> {mid}");
        }
    }
}
