//! TCP echo server: one goroutine per connection.
//!
//! ```text
//! cargo run --release --example echo [-- --addr HOST:PORT]
//! ```
//!
//! Listens on 127.0.0.1:7878 by default (`--addr 127.0.0.1:0` picks a free
//! port); the first line on stdout is `listening on ADDR` with the address
//! really bound. Each connection gets its bytes back until it half-closes,
//! then end of stream. Running out of fds (or goroutines) is reported on
//! stderr and retried: the server never exits by itself. Drive it with
//! `cargo run --release --example loadgen -- --addr ADDR`.

use goro::net::{Shutdown, TcpListener, TcpStream};
use std::io::Write;
use std::time::Duration;

/// Room for 20,000 connections: a goroutine and a socket each.
static RT: goro::Runtime<20_000, 20_000> = goro::Runtime::new();

fn main() {
    let addr = parse_args();
    RT.run(goro::Config::new().stack_size(64 * 1024), move || serve(&addr)).unwrap_or_else(|e| {
        eprintln!("echo: cannot start the runtime: {e}");
        std::process::exit(1);
    });
}

fn parse_args() -> String {
    let mut addr = "127.0.0.1:7878".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--addr" => addr = args.next().unwrap_or_else(|| usage("--addr needs a value")),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => usage(&format!("unknown argument {other}")),
        }
    }
    addr
}

const USAGE: &str = "usage: echo [--addr HOST:PORT]   (default 127.0.0.1:7878; numeric IPs or localhost)";

fn usage(msg: &str) -> ! {
    eprintln!("echo: {msg}");
    eprintln!("{USAGE}");
    std::process::exit(2);
}

fn serve(addr: &str) {
    let listener = TcpListener::bind(addr).unwrap_or_else(|e| {
        eprintln!("echo: cannot listen on {addr}: {e}");
        std::process::exit(1);
    });
    let bound = listener.local_addr().expect("local_addr");
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "listening on {bound}").and_then(|()| out.flush()) {
        eprintln!("echo: stdout: {e}");
        std::process::exit(1);
    }
    drop(out);
    // After a failed accept, wait before the next try, doubling from 5 ms
    // to 1 s while the failures go on (as Go's net/http server does): an
    // exhausted fd table frees up only as connections close.
    let mut backoff = Duration::ZERO;
    loop {
        match listener.accept() {
            Ok((stream, _peer)) => {
                backoff = Duration::ZERO;
                // Detached: the handle is dropped, the goroutine runs on.
                if let Err(e) = goro::spawn(move || handle(stream)) {
                    // Out of goroutines: the stream (moved into the failed
                    // spawn) is dropped, closing the connection.
                    eprintln!("echo: spawn: {e}");
                    goro::sleep(Duration::from_millis(10));
                }
            }
            Err(e) => {
                // EMFILE, ENFILE, a full poll-descriptor arena...: wait for
                // connections to close, then carry on.
                backoff = (backoff * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
                eprintln!("echo: accept: {e}; retrying in {backoff:?}");
                goro::sleep(backoff);
            }
        }
    }
}

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
