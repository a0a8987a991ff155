//! The tokio echo server: a `current_thread` runtime (or, with
//! `--workers N`, a `multi_thread` one with N workers), one task per
//! connection, a read / write_all loop with a 16 KiB buffer.
//!
//! `goro-bench echo-tokio --addr 127.0.0.1:PORT [--workers N] [--max-secs S]`
//!
//! Prints `listening on ADDR` first; serves until killed, or for at most
//! `--max-secs` (default 900) as a safety net. Connections get TCP_NODELAY,
//! as Go's net does by default.

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::sys;

pub fn main(args: &[String]) -> i32 {
    let mut addr: Option<SocketAddr> = None;
    let mut max_secs = 900u64;
    // 0: current_thread.
    let mut workers = 0usize;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--addr", Some(v)) => addr = v.parse().ok(),
            ("--max-secs", Some(v)) => max_secs = v.parse().unwrap_or(max_secs),
            ("--workers", Some(v)) if v.parse::<usize>().is_ok() => workers = v.parse().unwrap(),
            _ => {
                eprintln!("usage: goro-bench echo-tokio --addr 127.0.0.1:PORT [--workers N] [--max-secs S]");
                return 2;
            }
        }
    }
    let Some(addr) = addr else {
        eprintln!("echo-tokio: --addr 127.0.0.1:PORT required");
        return 2;
    };
    sys::raise_nofile();
    let mut b = if workers == 0 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(workers);
        b
    };
    let rt = b.enable_io().enable_time().build().expect("tokio runtime");
    let r = rt.block_on(async move {
        let l = TcpListener::bind(addr).await.map_err(|e| format!("bind {addr}: {e}"))?;
        println!("listening on {}", l.local_addr().map_err(|e| e.to_string())?);
        let _ = std::io::stdout().flush();
        let serve = async {
            loop {
                let (mut s, _) = match l.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        // EMFILE and the like: back off a little, keep serving.
                        eprintln!("echo-tokio: accept: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = s.set_nodelay(true);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        let n = match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        if s.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        };
        // `serve` never ends; the timeout is the safety net.
        let _ = tokio::time::timeout(Duration::from_secs(max_secs), serve).await;
        Ok::<(), String>(())
    });
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("echo-tokio: {e}");
            1
        }
    }
}
