//! Cases that run a program in a child process: a goroutine stack overflow
//! (which ends the process that has it) and the freestanding echo server.

use crate::ensure;
use crate::report::{failure, Context, Outcome};
use crate::sock::tcp_connect;
use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;
use goro::freestanding::{spawn, wait, ExitStatus};
use goro::time::Instant;

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
    let pid = spawn(c"/init", &[c"/init", c"overflow"], &[(rustix::fd::AsRawFd::as_raw_fd(&w), 2)]).ctx("spawn")?;
    drop(w);
    let st = wait(pid).ctx("wait")?;
    let mut err = heapless::Vec::new();
    drain(&r, &mut err);
    let text = core::str::from_utf8(&err).unwrap_or("(not UTF-8)").trim_end();
    ensure!(st == ExitStatus::Signaled(6), "child ended with {st:?}, want SIGABRT; stderr: {text}");
    ensure!(text.starts_with("goro: goroutine ") && text.contains("stack overflow"), "child's stderr: {text}");
    Ok(())
}

/// Port the echo image listens on when started by this case.
const ECHO_PORT: u16 = 7007;

/// The freestanding echo server (`/echo`) in a child process, with three
/// clients at once; then the child is killed.
pub fn echo_image() -> Outcome {
    let pid = spawn(c"/echo", &[c"/echo", c"127.0.0.1:7007"], &[]).ctx("spawn /echo")?;
    let talked = talk_to_echo(SocketAddrV4::new(Ipv4Addr::LOCALHOST, ECHO_PORT));
    let pid_t = rustix::process::Pid::from_raw(pid).ok_or_else(|| failure(format_args!("pid {pid}")))?;
    rustix::process::kill_process(pid_t, rustix::process::Signal::KILL).ctx("kill /echo")?;
    let st = wait(pid).ctx("wait")?;
    talked?;
    ensure!(st == ExitStatus::Signaled(9), "/echo ended with {st:?} before it was killed");
    Ok(())
}

/// Three connections to the echo server at once, each echoing a message.
fn talk_to_echo(addr: SocketAddrV4) -> Outcome {
    let t = Instant::now();
    // The child needs a moment to listen.
    let first = loop {
        match tcp_connect(addr) {
            Ok(c) => break c,
            Err(e) if t.elapsed() > Duration::from_secs(10) => {
                return Err(failure(format_args!("connect to /echo: {e:?}")))
            }
            Err(_) => goro::sleep(Duration::from_millis(10)),
        }
    };
    let second = tcp_connect(addr).ctx("second connect")?;
    let third = tcp_connect(addr).ctx("third connect")?;
    for (i, c) in [&first, &second, &third].into_iter().enumerate() {
        let msg = [b'a' + i as u8; 300];
        c.write_all(&msg).ctx("write")?;
        let mut back = [0u8; 300];
        c.read_exact(&mut back).ctx("read")?;
        ensure!(back == msg, "client {i}: echo differs");
    }
    Ok(())
}
