//! Cases that run a program in a child process: a goroutine stack overflow
//! (which ends the process that has it) and the freestanding echo server.

use crate::ensure;
use crate::report::{failure, Context, Failure, Outcome};
use core::ffi::CStr;
use core::net::{Ipv4Addr, SocketAddr};
use core::time::Duration;
use embedded_io::Read;
use goro::freestanding::{spawn, wait, ExitStatus};
use goro::net::{Shutdown, TcpStream};
use goro::poll::Fd;
use goro::time::Instant;
use goro::Error;
use rustix::fd::{AsRawFd, OwnedFd};

/// The argument that makes `/init` the overflowing child.
pub const OVERFLOW_ARG: &str = "overflow";

/// Child side: a goroutine recurses until it hits its guard page.
pub fn overflow_child() -> i32 {
    #[inline(never)]
    #[allow(unconditional_recursion)] // it ends by overflowing the stack, on purpose
    fn recurse(depth: u64, buf: &mut [u8; 512]) -> u64 {
        let mut local = [0u8; 512];
        local[depth as usize % 512] = buf[depth as usize % 512].wrapping_add(1);
        core::hint::black_box(&mut local);
        recurse(depth + 1, &mut local) + u64::from(local[0])
    }
    let h = goro::spawn(|| recurse(0, &mut [0; 512])).expect("spawn");
    let _ = h.join();
    0 // unreachable: the overflow ends the process
}

/// The argument that makes `/init` the child that reports its SIGPIPE
/// disposition.
pub const SIGPIPE_ARG: &str = "sigpipe";

/// Child side: exits with the SIGPIPE disposition it inherited (0 = the
/// default action, 1 = ignored).
pub fn sigpipe_child() -> i32 {
    goro::freestanding::sigpipe_at_start() as i32
}

/// A write to a pipe whose read end is closed fails with EPIPE and the
/// program lives on (the entry ignores SIGPIPE); a child started by
/// `spawn` inherits SIGPIPE's default action, not the ignored one.
pub fn broken_pipe() -> Outcome {
    ensure!(goro::freestanding::sigpipe_at_start() == 0, "the kernel started /init with SIGPIPE not at its default");
    let (r, w) = Fd::pipe().ctx("pipe")?;
    drop(r);
    let e = w.write(b"x");
    ensure!(e == Err(Error::Os(32)), "write to a pipe with no reader: {e:?}, want EPIPE (32)");
    let pid = spawn(c"/init", &[c"/init", c"sigpipe"], &[]).ctx("spawn")?;
    let st = wait(pid).ctx("wait")?;
    ensure!(st == ExitStatus::Exited(0), "child's inherited SIGPIPE disposition: {st:?}, want Exited(0) (default)");
    Ok(())
}

/// Reads everything from a pipe's read end (after the writer is gone).
fn drain(fd: &rustix::fd::OwnedFd, out: &mut heapless::Vec<u8, 1024>) {
    let mut buf = [0u8; 256];
    while let Ok(n @ 1..) = rustix::io::read(fd, &mut buf) {
        let _ = out.extend_from_slice(&buf[..n.min(out.capacity() - out.len())]);
    }
}

/// A goroutine overflowing its stack in a child `/init overflow`: the child
/// dies by SIGABRT after printing which goroutine overflowed.
pub fn stack_overflow() -> Outcome {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).ctx("pipe")?;
    let pid = spawn(c"/init", &[c"/init", c"overflow"], &[(w.as_raw_fd(), 2)]).ctx("spawn")?;
    drop(w);
    let st = wait(pid).ctx("wait")?;
    let mut err = heapless::Vec::new();
    drain(&r, &mut err);
    let text = core::str::from_utf8(&err).unwrap_or("(not UTF-8)").trim_end();
    ensure!(st == ExitStatus::Signaled(6), "child ended with {st:?}, want SIGABRT; stderr: {text}");
    ensure!(text.starts_with("goro: goroutine ") && text.contains("stack overflow"), "child's stderr: {text}");
    Ok(())
}

/// What a child process wrote to a pipe, read through the netpoller.
struct Output {
    fd: Fd,
    text: heapless::Vec<u8, 4096>,
}

impl Output {
    /// A pipe: the reader, and the write end to hand to a child.
    fn pipe() -> Result<(Output, OwnedFd), Failure> {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).ctx("pipe")?;
        Ok((Output { fd: Fd::new(r).ctx("register pipe")?, text: heapless::Vec::new() }, w))
    }

    /// Reads until `done` holds for the text so far, end of file, or
    /// `wait` has passed; returns whether `done` held. Text past 4 KiB is
    /// dropped.
    fn read_until(&mut self, wait: Duration, done: impl Fn(&[u8]) -> bool) -> Result<bool, Failure> {
        self.fd.set_read_deadline(Some(Instant::now() + wait)).ctx("deadline")?;
        let mut buf = [0u8; 256];
        while !done(&self.text) {
            match self.fd.read(&mut buf) {
                Ok(0) | Err(Error::TimedOut) => return Ok(false),
                Ok(n) => {
                    let room = self.text.capacity() - self.text.len();
                    let _ = self.text.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(e) => return Err(failure(format_args!("read a child's output: {e:?}"))),
            }
        }
        Ok(true)
    }

    fn has(&self, what: &str) -> bool {
        contains(&self.text, what)
    }

    fn show(&self) -> &str {
        core::str::from_utf8(&self.text).unwrap_or("(not UTF-8)").trim_end()
    }
}

fn contains(text: &[u8], what: &str) -> bool {
    text.windows(what.len()).any(|w| w == what.as_bytes())
}

/// The fd limit (soft and hard) `echo_image` sets on `/echo`, to make its
/// `accept` fail.
const ECHO_FDS: u64 = 16;

/// The freestanding echo server (`/echo`) in a child process: its usage
/// errors; then `/echo --addr 127.0.0.1:0` under an fd limit: its
/// `listening on` line, three clients at once each echoed and half-closed,
/// and, once the fds run out, `accept` errors on its stderr and service
/// again when a connection closes; then the child is killed.
pub fn echo_image() -> Outcome {
    usage_errors()?;
    let (mut out, out_w) = Output::pipe()?;
    let (mut err, err_w) = Output::pipe()?;
    let fds = [(out_w.as_raw_fd(), 1), (err_w.as_raw_fd(), 2)];
    let pid = spawn(c"/echo", &[c"/echo", c"--addr", c"127.0.0.1:0"], &fds).ctx("spawn /echo")?;
    drop((out_w, err_w));
    let pid_t = rustix::process::Pid::from_raw(pid).ok_or_else(|| failure(format_args!("pid {pid}")))?;
    let talked = talk_to_echo(pid_t, &mut out, &mut err);
    rustix::process::kill_process(pid_t, rustix::process::Signal::KILL).ctx("kill /echo")?;
    let st = wait(pid).ctx("wait")?;
    talked.map_err(|why| failure(format_args!("{why}; /echo's stderr: {}", err.show())))?;
    ensure!(st == ExitStatus::Signaled(9), "/echo ended with {st:?} before it was killed");
    Ok(())
}

/// `/echo` with bad arguments exits at once with a message on stderr.
fn usage_errors() -> Outcome {
    let cases: [(&[&CStr], i32, &str); 3] = [
        (&[c"/echo", c"--frob"], 2, "echo: unknown argument --frob\nusage: echo [--addr HOST:PORT]"),
        (&[c"/echo", c"--addr"], 2, "echo: --addr needs a value\nusage: echo"),
        (&[c"/echo", c"--addr", c"example.com:80"], 1, "echo: cannot listen on example.com:80: invalid input"),
    ];
    for (args, code, message) in cases {
        let (mut err, err_w) = Output::pipe()?;
        let pid = spawn(c"/echo", args, &[(err_w.as_raw_fd(), 2)]).ctx("spawn /echo")?;
        drop(err_w);
        let st = wait(pid).ctx("wait")?;
        err.read_until(Duration::from_secs(5), |_| false)?;
        ensure!(
            st == ExitStatus::Exited(code) && err.has(message),
            "{args:?}: {st:?}, stderr {:?}; want exit {code} and {message:?}",
            err.show()
        );
    }
    Ok(())
}

/// A message through `c` and back.
fn echoed(c: &TcpStream, msg: &[u8]) -> Outcome {
    let mut c = c;
    let mut back = [0u8; 300];
    let back = &mut back[..msg.len()];
    c.write_all(msg).ctx("write")?;
    c.read_exact(back).ctx("read")?;
    ensure!(back == msg, "echo differs");
    Ok(())
}

fn talk_to_echo(pid: rustix::process::Pid, out: &mut Output, err: &mut Output) -> Outcome {
    use rustix::process::{prlimit, Resource, Rlimit};
    // The hard limit too: goro raises the soft limit to it at start-up.
    let limit = Rlimit { current: Some(ECHO_FDS), maximum: Some(ECHO_FDS) };
    prlimit(Some(pid), Resource::Nofile, limit).ctx("prlimit")?;

    ensure!(out.read_until(Duration::from_secs(10), |t| t.contains(&b'\n'))?, "no line on stdout: {:?}", out.show());
    let line = out.show();
    let addr: SocketAddr = line
        .strip_prefix("listening on ")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| failure(format_args!("first line on stdout: {line:?}, want \"listening on 127.0.0.1:PORT\"")))?;
    ensure!(addr.ip() == Ipv4Addr::LOCALHOST && addr.port() != 0, "listening on {addr}");

    // Three connections at once, each echoed, then half-closed: /echo
    // shuts its side down too.
    let first = TcpStream::connect(addr).ctx("connect")?;
    let second = TcpStream::connect(addr).ctx("second connect")?;
    let third = TcpStream::connect(addr).ctx("third connect")?;
    for (i, c) in [&first, &second, &third].into_iter().enumerate() {
        echoed(c, &[b'a' + i as u8; 300]).map_err(|why| failure(format_args!("client {i}: {why}")))?;
    }
    for (i, c) in [&first, &second, &third].into_iter().enumerate() {
        c.shutdown(Shutdown::Write).ctx("shutdown")?;
        c.set_read_deadline(Some(Instant::now() + Duration::from_secs(10))).ctx("deadline")?;
        ensure!(c.read(&mut [0u8; 8]).ctx("read at end")? == 0, "client {i}: no end of stream after half-close");
    }
    drop((first, second, third));

    // Connections until /echo runs out of fds: the last one waits in the
    // kernel's queue while /echo reports EMFILE; closing a served one
    // lets /echo accept it.
    let mut served: heapless::Vec<TcpStream, 32> = heapless::Vec::new();
    let waiting = loop {
        ensure!(!served.is_full(), "{} connections served under a limit of {ECHO_FDS} fds", served.len());
        let c = TcpStream::connect(addr).ctx("connect")?;
        c.write_all(b"?").ctx("write")?;
        if served_or_emfile(&c, err)? {
            let _ = served.push(c);
        } else {
            break c;
        }
    };
    ensure!(!served.is_empty(), "no connection served under a limit of {ECHO_FDS} fds");
    drop(served.pop());
    waiting.set_read_deadline(Some(Instant::now() + Duration::from_secs(10))).ctx("deadline")?;
    let mut b = [0u8; 1];
    ensure!(
        waiting.read(&mut b).ctx("read once an fd was free")? == 1 && b == *b"?",
        "the waiting connection got {b:?}"
    );
    Ok(())
}

/// Whether `c`'s byte came back (true) or `/echo` reported `accept`
/// failing with EMFILE on its stderr (false), whichever comes first.
fn served_or_emfile(c: &TcpStream, err: &mut Output) -> Result<bool, Failure> {
    let t = Instant::now();
    let mut b = [0u8; 1];
    while t.elapsed() < Duration::from_secs(10) {
        c.set_read_deadline(Some(Instant::now() + Duration::from_millis(50))).ctx("deadline")?;
        match c.read(&mut b) {
            Ok(1) => return Ok(true),
            Err(Error::TimedOut) => {}
            r => return Err(failure(format_args!("read: {r:?}"))),
        }
        if err
            .read_until(Duration::from_millis(20), |t| contains(t, "echo: accept: too many open files (os error 24)"))?
        {
            return Ok(false);
        }
    }
    Err(failure(format_args!("neither an echo nor EMFILE within 10 s")))
}
