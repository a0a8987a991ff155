//! The "floor" echo server: one thread, edge-triggered epoll, no runtime.
//!
//! `goro-bench echo-floor --addr 127.0.0.1:PORT [--max-secs S] [--short-read]`
//!
//! Each connection is registered once with EPOLLIN|EPOLLOUT|EPOLLRDHUP|
//! EPOLLET, so serving it never needs an `epoll_ctl`. On every event the
//! connection is read until EAGAIN; every chunk read is written back at
//! once, looping on partial writes. A write that hits EAGAIN keeps the rest
//! in the connection's pending buffer, and reading stops until the EPOLLOUT
//! edge (the kernel raises one after a write found the socket full) lets the
//! rest go out. Prints `listening on ADDR` first; serves until killed, or
//! for at most `--max-secs` (default 900) as a safety net.
//!
//! `--short-read` (the `floor-short` server of the harness) stops reading
//! after a read that did not fill the buffer instead of reading on to
//! EAGAIN, as Go and tokio do: under edge triggering, data that arrives
//! later raises a new edge, so the EAGAIN read can be saved.

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::IntoRawFd;
use std::time::{Duration, Instant};

use crate::sys;

const LISTENER: u64 = u64::MAX;
const BUF: usize = 16 * 1024;

#[derive(Default)]
struct Conn {
    open: bool,
    /// Bytes read but not yet written back (after a write hit EAGAIN).
    pending: Vec<u8>,
}

pub fn main(args: &[String]) -> i32 {
    let mut addr: Option<SocketAddr> = None;
    let mut max_secs = 900u64;
    let mut short_read = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--short-read" {
            short_read = true;
            continue;
        }
        match (a.as_str(), it.next()) {
            ("--addr", Some(v)) => addr = v.parse().ok(),
            ("--max-secs", Some(v)) => max_secs = v.parse().unwrap_or(max_secs),
            _ => {
                eprintln!("usage: goro-bench echo-floor --addr 127.0.0.1:PORT [--max-secs S] [--short-read]");
                return 2;
            }
        }
    }
    let Some(addr) = addr else {
        eprintln!("echo-floor: --addr 127.0.0.1:PORT required");
        return 2;
    };
    match serve(addr, Duration::from_secs(max_secs), short_read) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("echo-floor: {e}");
            1
        }
    }
}

fn last_err(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

fn serve(addr: SocketAddr, max: Duration, short_read: bool) -> Result<(), String> {
    sys::raise_nofile();
    // std's bind/listen; the backlog is raised again below to the kernel cap.
    let l = TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
    let local = l.local_addr().map_err(|e| e.to_string())?;
    l.set_nonblocking(true).map_err(|e| e.to_string())?;
    let lfd = l.into_raw_fd();
    // SAFETY: plain system calls on fds this function owns; every pointer
    // passed is valid for the length given.
    unsafe {
        if libc::listen(lfd, 4096) != 0 {
            return Err(last_err("listen"));
        }
        let ep = libc::epoll_create1(libc::EPOLL_CLOEXEC);
        if ep < 0 {
            return Err(last_err("epoll_create1"));
        }
        let mut ev = libc::epoll_event { events: (libc::EPOLLIN | libc::EPOLLET) as u32, u64: LISTENER };
        if libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, lfd, &mut ev) != 0 {
            return Err(last_err("epoll_ctl listener"));
        }
        println!("listening on {local}");
        let _ = std::io::stdout().flush();

        let deadline = Instant::now() + max;
        let mut conns: Vec<Conn> = Vec::new();
        let mut buf = vec![0u8; BUF];
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
        while Instant::now() < deadline {
            let n = libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, 1000);
            if n < 0 {
                if sys::errno() == libc::EINTR {
                    continue;
                }
                return Err(last_err("epoll_wait"));
            }
            for ev in &events[..n as usize] {
                if ev.u64 == LISTENER {
                    accept_all(ep, lfd, &mut conns)?;
                    continue;
                }
                let fd = ev.u64 as i32;
                let c = &mut conns[fd as usize];
                if c.open && !serve_conn(fd, c, &mut buf, short_read) {
                    libc::close(fd);
                    c.open = false;
                    c.pending = Vec::new();
                }
            }
        }
    }
    Ok(())
}

/// Accepts until EAGAIN; each connection gets TCP_NODELAY (as Go's net
/// does by default) and one epoll registration for its whole life.
unsafe fn accept_all(ep: i32, lfd: i32, conns: &mut Vec<Conn>) -> Result<(), String> {
    loop {
        let fd =
            libc::accept4(lfd, std::ptr::null_mut(), std::ptr::null_mut(), libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC);
        if fd < 0 {
            match sys::errno() {
                libc::EAGAIN => return Ok(()),
                libc::EINTR | libc::ECONNABORTED => continue,
                // Out of fds: leave the rest in the backlog, keep serving.
                libc::EMFILE | libc::ENFILE => {
                    eprintln!("echo-floor: {}", last_err("accept4"));
                    return Ok(());
                }
                _ => return Err(last_err("accept4")),
            }
        }
        let one: libc::c_int = 1;
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            &one as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
            u64: fd as u64,
        };
        if libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) != 0 {
            return Err(last_err("epoll_ctl conn"));
        }
        if conns.len() <= fd as usize {
            conns.resize_with(fd as usize + 1, Conn::default);
        }
        conns[fd as usize] = Conn { open: true, pending: Vec::new() };
    }
}

/// Writes `data` until done or EAGAIN; returns the bytes written, or None on
/// a connection error.
unsafe fn write_some(fd: i32, data: &[u8]) -> Option<usize> {
    let mut off = 0;
    while off < data.len() {
        let w = libc::write(fd, data.as_ptr().add(off) as *const libc::c_void, data.len() - off);
        if w < 0 {
            match sys::errno() {
                libc::EAGAIN => break,
                libc::EINTR => continue,
                _ => return None,
            }
        }
        off += w as usize;
    }
    Some(off)
}

/// Serves one readiness event. Returns false when the connection is done.
unsafe fn serve_conn(fd: i32, c: &mut Conn, buf: &mut [u8], short_read: bool) -> bool {
    if !c.pending.is_empty() {
        let Some(w) = write_some(fd, &c.pending) else { return false };
        c.pending.drain(..w);
        if !c.pending.is_empty() {
            return true; // still full: wait for the EPOLLOUT edge
        }
    }
    loop {
        let r = libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len());
        if r < 0 {
            match sys::errno() {
                libc::EAGAIN => return true,
                libc::EINTR => continue,
                _ => return false,
            }
        }
        if r == 0 {
            return false; // EOF
        }
        let r = r as usize;
        let Some(w) = write_some(fd, &buf[..r]) else { return false };
        if w < r {
            c.pending.extend_from_slice(&buf[w..r]);
            return true; // stop reading until the rest has gone out
        }
        if short_read && r < buf.len() {
            return true; // drained for now; new data raises a new edge
        }
    }
}
