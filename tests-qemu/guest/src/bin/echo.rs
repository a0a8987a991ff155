//! A freestanding TCP echo server over `goro::net`, the no-libc twin of
//! `examples/echo.rs`: `echo [--addr HOST:PORT]`.
//!
//! Listens on 127.0.0.1:7878 by default (`--addr 127.0.0.1:0` picks a free
//! port); the first line on stdout is `listening on ADDR` with the address
//! really bound. One goroutine per connection echoes its bytes until the
//! client half-closes, then shuts down the write side. Accept errors (out
//! of fds, a full poll-descriptor arena) and spawn failures are reported on
//! stderr and retried after 10 ms: the server never exits by itself. As
//! `/init` it brings up `lo` first.
//!
//! Addresses are parsed and printed by `goro_qemu_guest::addr` rather than
//! by `TcpListener::bind(&str)` and core's `Display`, and arguments are
//! compared as bytes (no UTF-8 check): that keeps the stripped image under
//! 64 KiB on aarch64.
#![no_std]
#![no_main]

use core::time::Duration;
use goro::net::{Shutdown, TcpListener, TcpStream};
use goro_qemu_guest::addr::{self, Addr, Text};
use goro_qemu_guest::report::{eline, line};

/// Echoes until the client half-closes (or fails), then closes our side.
fn handle(s: TcpStream) {
    let _ = s.set_nodelay(true);
    let mut buf = [0u8; 16 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if s.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(_) => return,
        }
    }
    let _ = s.shutdown(Shutdown::Write);
}

/// The `--addr` value, or the exit code of a usage error.
fn parse_args() -> Result<&'static [u8], i32> {
    let mut addr: &[u8] = b"127.0.0.1:7878";
    let mut args = goro::freestanding::args().map(|a| a.to_bytes());
    args.next();
    while let Some(a) = args.next() {
        match a {
            b"--addr" => match args.next() {
                Some(v) => addr = v,
                None => return Err(usage(Some(format_args!("--addr needs a value")))),
            },
            b"-h" | b"--help" => return Err(usage(None)),
            other => return Err(usage(Some(format_args!("unknown argument {}", Text(other))))),
        }
    }
    Ok(addr)
}

/// Prints `msg` and the usage line on stderr; returns exit code 2.
fn usage(msg: Option<core::fmt::Arguments<'_>>) -> i32 {
    if let Some(msg) = msg {
        eline(format_args!("echo: {msg}"));
    }
    eline(format_args!("usage: echo [--addr HOST:PORT]   (default 127.0.0.1:7878; numeric IPs or localhost)"));
    2
}

goro::freestanding_main!(
    fn main() -> i32 {
        if goro::freestanding::is_init() {
            let _ = goro_qemu_guest::lo::up();
        }
        let addr = match parse_args() {
            Ok(a) => a,
            Err(code) => return code,
        };
        let bound = addr::parse(addr).ok_or(goro::Error::InvalidInput("not IP:PORT, [IPv6]:PORT or localhost:PORT"));
        let listener = match bound.and_then(TcpListener::bind) {
            Ok(l) => l,
            Err(e) => {
                eline(format_args!("echo: cannot listen on {}: {e}", Text(addr)));
                return 1;
            }
        };
        match listener.local_addr() {
            Ok(bound) => line(format_args!("listening on {}", Addr(bound))),
            Err(e) => {
                eline(format_args!("echo: local_addr: {e}"));
                return 1;
            }
        }
        loop {
            match listener.accept() {
                Ok((stream, _peer)) => {
                    // Detached: the handle is dropped, the goroutine runs on.
                    if let Err(e) = goro::spawn(move || handle(stream)) {
                        // Out of goroutines: the stream (moved into the
                        // failed spawn) is dropped, closing the connection.
                        eline(format_args!("echo: spawn: {e}"));
                        goro::sleep(Duration::from_millis(10));
                    }
                }
                Err(e) => {
                    // EMFILE, ENFILE, a full poll-descriptor arena...: wait
                    // for connections to close, then carry on.
                    eline(format_args!("echo: accept: {e}"));
                    goro::sleep(Duration::from_millis(10));
                }
            }
        }
    }
);
