//! Sockets over loopback: TCP, UDP, Unix; deadlines, close while parked,
//! and running out of fds.

use crate::ensure;
use crate::report::{Context, Outcome};
use crate::sock::{tcp_connect, unix_connect, Listener, Stream, Udp};
use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;
use goro::time::Instant;
use goro::Error;
use rustix::net::SocketAddrUnix;

const LOCAL: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);

/// A byte pattern that differs per connection and offset.
fn pattern(conn: usize, i: usize) -> u8 {
    (i.wrapping_mul(31) ^ conn.wrapping_mul(7)) as u8
}

/// Echoes one connection until end of stream.
fn echo(s: Stream) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 || s.write_all(&buf[..n]).is_err() {
            break;
        }
    }
}

/// Sends 64 KiB through an echo connection and checks every byte back.
fn round_trip(c: &Stream, conn: usize) -> Outcome {
    const LEN: usize = 64 * 1024;
    let mut out = [0u8; 1024];
    let mut back = [0u8; 1024];
    for chunk in 0..LEN / out.len() {
        for (i, b) in out.iter_mut().enumerate() {
            *b = pattern(conn, chunk * 1024 + i);
        }
        c.write_all(&out).ctx("write")?;
        c.read_exact(&mut back).ctx("read")?;
        ensure!(back == out, "connection {conn}: chunk {chunk} came back different");
    }
    Ok(())
}

/// 8 concurrent TCP clients, each with its own echo goroutine on the server.
pub fn tcp_echo() -> Outcome {
    let l = Listener::tcp(LOCAL).ctx("listen")?;
    let addr = l.local_addr().ctx("local_addr")?;
    let server = goro::spawn(move || -> Result<(), Error> {
        for _ in 0..8 {
            let s = l.accept()?;
            goro::spawn(move || echo(s))?;
        }
        Ok(())
    })
    .ctx("spawn")?;
    let mut clients: heapless::Vec<goro::JoinHandle<Outcome>, 8> = heapless::Vec::new();
    for conn in 0..8 {
        let h = goro::spawn(move || {
            let c = tcp_connect(addr).ctx("connect")?;
            round_trip(&c, conn)?;
            c.shutdown_write().ctx("shutdown")?;
            let mut b = [0u8; 1];
            ensure!(c.read(&mut b).ctx("read at end")? == 0, "connection {conn}: no end of stream");
            Ok(())
        })
        .ctx("spawn")?;
        let _ = clients.push(h);
    }
    for h in clients {
        h.join().ctx("join")??;
    }
    server.join().ctx("join")?.ctx("server")?;
    Ok(())
}

/// UDP datagrams between two sockets, in both directions.
pub fn udp() -> Outcome {
    let a = Udp::bind(LOCAL).ctx("bind a")?;
    let b = Udp::bind(LOCAL).ctx("bind b")?;
    let (aa, ba) = (a.local_addr().ctx("addr")?, b.local_addr().ctx("addr")?);
    let pong = goro::spawn(move || -> Result<u32, Error> {
        let mut buf = [0u8; 64];
        let mut n_seen = 0;
        for _ in 0..10 {
            let (n, from) = b.recv_from(&mut buf)?;
            b.send_to(&buf[..n], from)?;
            n_seen += 1;
        }
        Ok(n_seen)
    })
    .ctx("spawn")?;
    let mut buf = [0u8; 64];
    for i in 0..10u8 {
        let msg = [i; 17];
        a.send_to(&msg, ba).ctx("send_to")?;
        let (n, from) = a.recv_from(&mut buf).ctx("recv_from")?;
        ensure!(from == ba, "reply from {from}, want {ba}");
        ensure!(buf[..n] == msg, "datagram {i} came back as {:?}", &buf[..n]);
    }
    ensure!(pong.join().ctx("join")?.ctx("pong")? == 10, "pong side");
    let _ = aa;
    Ok(())
}

/// Unix stream sockets, at a path in /tmp and at an abstract name.
pub fn unix() -> Outcome {
    let path = SocketAddrUnix::new("/tmp/goro-echo.sock").ctx("path")?;
    let abs = SocketAddrUnix::new_abstract_name(b"goro-echo").ctx("abstract")?;
    for (k, addr) in [path, abs].into_iter().enumerate() {
        let l = Listener::unix(&addr).ctx("listen")?;
        let server = goro::spawn(move || -> Result<(), Error> {
            echo(l.accept()?);
            Ok(())
        })
        .ctx("spawn")?;
        let c = unix_connect(&addr).ctx("connect")?;
        round_trip(&c, k)?;
        drop(c);
        server.join().ctx("join")?.ctx("server")?;
    }
    let _ = rustix::fs::unlink("/tmp/goro-echo.sock");
    Ok(())
}

/// A read deadline fails a parked read with `TimedOut`, stays expired until
/// reset, and a reset lets the next read wait for data again.
pub fn deadlines() -> Outcome {
    let l = Listener::tcp(LOCAL).ctx("listen")?;
    let c = tcp_connect(l.local_addr().ctx("addr")?).ctx("connect")?;
    let s = l.accept().ctx("accept")?;
    let mut buf = [0u8; 8];
    let t = Instant::now();
    s.0.set_read_deadline(Some(Instant::now() + Duration::from_millis(30))).ctx("deadline")?;
    let r = s.read(&mut buf);
    ensure!(r == Err(Error::TimedOut), "read past the deadline: {r:?}");
    ensure!(t.elapsed() >= Duration::from_millis(30), "timed out after {:?}", t.elapsed());
    c.write_all(b"x").ctx("write")?;
    let r = s.read(&mut buf);
    ensure!(r == Err(Error::TimedOut), "expired deadline not sticky: {r:?}");
    s.0.set_read_deadline(None).ctx("reset")?;
    ensure!(s.read(&mut buf).ctx("read after reset")? == 1, "read after reset");
    Ok(())
}

/// Closing a socket wakes the goroutine parked reading it with `Closed`.
pub fn close_while_parked() -> Outcome {
    static SERVER_SIDE: spin::Once<Stream> = spin::Once::new();
    let l = Listener::tcp(LOCAL).ctx("listen")?;
    let _c = tcp_connect(l.local_addr().ctx("addr")?).ctx("connect")?;
    let s: &'static Stream = SERVER_SIDE.call_once(|| l.accept().expect("accept"));
    let reader = goro::spawn(move || {
        let mut buf = [0u8; 8];
        s.read(&mut buf)
    })
    .ctx("spawn")?;
    goro::sleep(Duration::from_millis(20));
    ensure!(!reader.is_finished(), "the reader did not park");
    s.0.close().ctx("close")?;
    let r = reader.join().ctx("join")?;
    ensure!(r == Err(Error::Closed), "parked read after close: {r:?}");
    Ok(())
}

/// With the fd limit reached, `accept` returns `EMFILE` and the listener
/// goes on working once fds are free again.
pub fn emfile() -> Outcome {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let l = Listener::tcp(LOCAL).ctx("listen")?;
    let addr = l.local_addr().ctx("addr")?;
    let old = getrlimit(Resource::Nofile);
    setrlimit(Resource::Nofile, Rlimit { current: Some(48), maximum: old.maximum }).ctx("setrlimit")?;
    let r = (|| {
        let mut held: heapless::Vec<Stream, 64> = heapless::Vec::new();
        let full = loop {
            match tcp_connect(addr) {
                Ok(c) => {
                    ensure!(held.push(c).is_ok(), "48 fds never ran out");
                }
                Err(e) => break e,
            }
        };
        ensure!(full == Error::Os(24), "connect at the limit: {full:?}, want EMFILE (24)");
        let r = l.accept();
        ensure!(matches!(r, Err(Error::Os(24))), "accept at the limit: {:?}, want EMFILE", r.as_ref().err());
        held.pop();
        held.pop();
        let s = l.accept().ctx("accept after freeing fds")?;
        drop(s);
        Ok(())
    })();
    setrlimit(Resource::Nofile, old).ctx("restore rlimit")?;
    r
}
