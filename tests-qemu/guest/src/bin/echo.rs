//! A freestanding TCP echo server: `echo [ADDR:PORT]` (default
//! `0.0.0.0:7007`). One goroutine per connection echoes bytes until end of
//! stream. As `/init` it brings up `lo` first.
#![no_std]
#![no_main]

use core::net::SocketAddrV4;
use core::str::FromStr;
use goro_qemu_guest::report::line;
use goro_qemu_guest::sock::{Listener, Stream};

fn serve(s: Stream) {
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 || s.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

goro::freestanding_main!(
    fn main() -> i32 {
        if goro::freestanding::is_init() {
            let _ = goro_qemu_guest::lo::up();
        }
        let arg = goro::freestanding::args().nth(1).map(|a| a.to_str().unwrap_or("")).unwrap_or("0.0.0.0:7007");
        let Ok(addr) = SocketAddrV4::from_str(arg) else {
            line(format_args!("echo: bad address {arg} (want IPv4 ADDR:PORT)"));
            return 2;
        };
        let l = match Listener::tcp(addr) {
            Ok(l) => l,
            Err(e) => {
                line(format_args!("echo: listen {addr}: {e}"));
                return 1;
            }
        };
        loop {
            match l.accept() {
                Ok(s) => {
                    if let Err(e) = goro::spawn(move || serve(s)) {
                        line(format_args!("echo: spawn: {e}"));
                    }
                }
                Err(e) => {
                    line(format_args!("echo: accept: {e}"));
                    goro::sleep(core::time::Duration::from_millis(10));
                }
            }
        }
    }
);
