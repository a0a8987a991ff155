//! Sockets over loopback through `goro::net`: TCP, UDP, Unix streams and
//! datagrams; deadlines, close while parked, and running out of fds. Also
//! `/echo`'s compact address parser and printer, checked against core's.

use crate::addr::{self, Addr};
use crate::ensure;
use crate::report::{Context, Failure, Outcome};
use core::fmt::Write as _;
use core::net::{Ipv4Addr, SocketAddr};
use core::time::Duration;
use embedded_io::{Read, Write};
use goro::net::{Shutdown, TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream};
use goro::time::Instant;
use goro::Error;

const LOCAL: (Ipv4Addr, u16) = (Ipv4Addr::LOCALHOST, 0);

/// A byte pattern that differs per connection and offset.
fn pattern(conn: usize, i: usize) -> u8 {
    (i.wrapping_mul(31) ^ conn.wrapping_mul(7)) as u8
}

/// Echoes one connection until end of stream (through goro's
/// `embedded-io` impls for `&TcpStream` and `&UnixStream`).
fn echo(mut s: impl Read<Error = Error> + Write<Error = Error>) {
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = s.read(&mut buf) {
        if s.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

/// Sends 64 KiB through an echo connection and checks every byte back.
fn round_trip(mut c: impl Read<Error = Error> + Write<Error = Error>, conn: usize) -> Outcome {
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
    let l = TcpListener::bind(LOCAL).ctx("listen")?;
    let addr = l.local_addr().ctx("local_addr")?;
    let server = goro::spawn(move || -> Result<(), Error> {
        for _ in 0..8 {
            let (s, peer) = l.accept()?;
            if peer.ip() != Ipv4Addr::LOCALHOST || s.peer_addr()? != peer {
                return Err(Error::InvalidInput("accept: wrong peer address"));
            }
            goro::spawn(move || {
                echo(&s);
                let _ = s.shutdown(Shutdown::Write);
            })?;
        }
        Ok(())
    })
    .ctx("spawn")?;
    let mut clients: heapless::Vec<goro::JoinHandle<Outcome>, 8> = heapless::Vec::new();
    for conn in 0..8 {
        let h = goro::spawn(move || {
            let c = TcpStream::connect(addr).ctx("connect")?;
            ensure!(c.peer_addr().ctx("peer_addr")? == addr, "connected to the wrong address");
            round_trip(&c, conn)?;
            c.shutdown(Shutdown::Write).ctx("shutdown")?;
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
    let a = UdpSocket::bind(LOCAL).ctx("bind a")?;
    let b = UdpSocket::bind(LOCAL).ctx("bind b")?;
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
    ensure!(aa.port() != 0 && aa != ba, "local addresses {aa} and {ba}");
    Ok(())
}

/// Unix stream sockets, at a path in /tmp and at an abstract name; then
/// datagrams between two path sockets.
pub fn unix() -> Outcome {
    const PATH: &str = "/tmp/goro-echo.sock";
    for k in 0..2 {
        let l = if k == 0 { UnixListener::bind(PATH) } else { UnixListener::bind_abstract("goro-echo") };
        let l = l.ctx("listen")?;
        let server = goro::spawn(move || -> Result<(), Error> {
            let (s, _) = l.accept()?;
            echo(&s);
            Ok(())
        })
        .ctx("spawn")?;
        let c = if k == 0 { UnixStream::connect(PATH) } else { UnixStream::connect_abstract("goro-echo") };
        let c = c.ctx("connect")?;
        let peer = c.peer_addr().ctx("peer_addr")?;
        let want: Option<&[u8]> = Some(if k == 0 { PATH.as_bytes() } else { b"goro-echo" });
        ensure!((if k == 0 { peer.as_pathname() } else { peer.as_abstract_name() }) == want, "connected to {peer:?}");
        round_trip(&c, k)?;
        drop(c);
        server.join().ctx("join")?.ctx("server")?;
    }
    let _ = rustix::fs::unlink(PATH);

    const A: &str = "/tmp/goro-dgram-a.sock";
    const B: &str = "/tmp/goro-dgram-b.sock";
    let (a, b) = (UnixDatagram::bind(A).ctx("bind a")?, UnixDatagram::bind(B).ctx("bind b")?);
    let pong = goro::spawn(move || -> Result<(), Error> {
        let mut buf = [0u8; 64];
        for _ in 0..5 {
            let (n, from) = b.recv_from(&mut buf)?;
            b.send_to_addr(&buf[..n], &from)?;
        }
        Ok(())
    })
    .ctx("spawn")?;
    let mut buf = [0u8; 64];
    for i in 0..5u8 {
        a.send_to(&[i; 9], B).ctx("send_to")?;
        let (n, from) = a.recv_from(&mut buf).ctx("recv_from")?;
        ensure!(from.as_pathname() == Some(B.as_bytes()), "reply from {from:?}");
        ensure!(buf[..n] == [i; 9], "datagram {i} came back as {:?}", &buf[..n]);
    }
    pong.join().ctx("join")?.ctx("pong")?;
    let _ = rustix::fs::unlink(A);
    let _ = rustix::fs::unlink(B);
    Ok(())
}

/// A read deadline fails a parked read with `TimedOut`, stays expired until
/// reset, and a reset lets the next read wait for data again.
pub fn deadlines() -> Outcome {
    let l = TcpListener::bind(LOCAL).ctx("listen")?;
    let c = TcpStream::connect(l.local_addr().ctx("addr")?).ctx("connect")?;
    let (s, _) = l.accept().ctx("accept")?;
    let mut buf = [0u8; 8];
    let t = Instant::now();
    s.set_read_deadline(Some(Instant::now() + Duration::from_millis(30))).ctx("deadline")?;
    let r = s.read(&mut buf);
    ensure!(r == Err(Error::TimedOut), "read past the deadline: {r:?}");
    ensure!(t.elapsed() >= Duration::from_millis(30), "timed out after {:?}", t.elapsed());
    c.write_all(b"x").ctx("write")?;
    let r = s.read(&mut buf);
    ensure!(r == Err(Error::TimedOut), "expired deadline not sticky: {r:?}");
    s.set_read_deadline(None).ctx("reset")?;
    ensure!(s.read(&mut buf).ctx("read after reset")? == 1, "read after reset");
    Ok(())
}

/// Closing a socket wakes the goroutine parked reading it with `Closed`.
pub fn close_while_parked() -> Outcome {
    static SERVER_SIDE: spin::Once<TcpStream> = spin::Once::new();
    let l = TcpListener::bind(LOCAL).ctx("listen")?;
    let _c = TcpStream::connect(l.local_addr().ctx("addr")?).ctx("connect")?;
    let s: &'static TcpStream = SERVER_SIDE.call_once(|| l.accept().expect("accept").0);
    let reader = goro::spawn(move || {
        let mut buf = [0u8; 8];
        s.read(&mut buf)
    })
    .ctx("spawn")?;
    goro::sleep(Duration::from_millis(20));
    ensure!(!reader.is_finished(), "the reader did not park");
    s.close().ctx("close")?;
    let r = reader.join().ctx("join")?;
    ensure!(r == Err(Error::Closed), "parked read after close: {r:?}");
    Ok(())
}

/// With the fd limit reached, `accept` returns `EMFILE` and the listener
/// goes on working once fds are free again.
pub fn emfile() -> Outcome {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let l = TcpListener::bind(LOCAL).ctx("listen")?;
    let addr = l.local_addr().ctx("addr")?;
    let old = getrlimit(Resource::Nofile);
    setrlimit(Resource::Nofile, Rlimit { current: Some(48), maximum: old.maximum }).ctx("setrlimit")?;
    let r = (|| {
        let mut held: heapless::Vec<TcpStream, 64> = heapless::Vec::new();
        let full = loop {
            match TcpStream::connect(addr) {
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

/// `/echo`'s address parser and printer (`crate::addr`) give what core's
/// `SocketAddr` parser and `Display` give, on valid and invalid text.
pub fn addresses() -> Outcome {
    const TEXT: &[&str] = &[
        "127.0.0.1:7878",
        "0.0.0.0:0",
        "255.255.255.255:65535",
        "1.2.3.4:080",
        "[::1]:80",
        "[::]:0",
        "[1:2:3:4:5:6:7:8]:9",
        "[1::8]:1",
        "[1:2:3:4:5:6:7::]:1",
        "[::2:3:4:5:6:7:8]:1",
        "[0:0:1:0:0:0:1:0]:1",
        "[1:0:0:2:0:0:0:3]:1",
        "[1:0:0:2:0:0:3:4]:1",
        "[abcd:EF01::ffff]:443",
        "[::ffff:10.0.0.1]:22",
        "[64:ff9b::192.0.2.33]:5",
        "[1:2:3:4:5:6:1.2.3.4]:5",
        "[::1.2.3.4]:5",
        "[fe80::1%2]:80",
        "[fe80::1%4294967295]:80",
        "[0001:0002::]:3",
        // Invalid.
        "",
        ":80",
        "1.2.3.4",
        "1.2.3.4:",
        "1.2.3.4:65536",
        "1.2.3.4:-1",
        "1.2.3.4:+1",
        "1.2.3:80",
        "1.2.3.4.5:80",
        "01.2.3.4:80",
        "1.2.3.256:80",
        "1..3.4:80",
        "[1.2.3.4]:80",
        "::1:80",
        "[::1]",
        "[::1]80",
        "[1:2:3:4:5:6:7:8:9]:1",
        "[1:2:3:4:5:6:7]:1",
        "[1::2::3]:1",
        "[:::1]:1",
        "[:1::]:1",
        "[1:]:1",
        "[1::2:3:4:5:6:7:8]:1",
        "[12345::]:1",
        "[g::]:1",
        "[1.2.3.4::]:1",
        "[::1.2.3.4:5]:1",
        "[1:2:3:4:5:6:7:1.2.3.4]:1",
        "[::1%]:80",
        "[::1%x]:80",
        "[::1%4294967296]:80",
        "[::1]:80:",
        "localhost",
    ];
    for &t in TEXT {
        let core_says = t.parse::<SocketAddr>().ok();
        let ours = addr::parse(t.as_bytes());
        ensure!(ours == core_says, "parse {t:?}: {ours:?}, core says {core_says:?}");
        if let Some(a) = core_says {
            let (mut mine, mut theirs) = (Failure::new(), Failure::new());
            let _ = write!(mine, "{}", Addr(a));
            let _ = write!(theirs, "{a}");
            ensure!(mine == theirs, "display {t:?}: {mine}, core says {theirs}");
        }
    }
    for (t, port) in [("localhost:7878", 7878), ("LocalHost:0", 0)] {
        let a = addr::parse(t.as_bytes());
        ensure!(a == Some(SocketAddr::from((Ipv4Addr::LOCALHOST, port))), "parse {t:?}: {a:?}");
    }
    ensure!(addr::parse(b"localhost:x").is_none() && addr::parse(b"example.com:80").is_none(), "host names");
    Ok(())
}
