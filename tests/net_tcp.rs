//! `goro::net` TCP: data integrity under load, half-close, resets,
//! timeouts and deadlines, close while parked, addresses, trait impls.
//!
//! Every byte stays on 127.0.0.1 / ::1. Runtimes serialise on goro's
//! process lock, so cargo's parallel test threads take turns.

use goro::net::{Shutdown, TcpListener, TcpStream, ToSocketAddr};
use goro::Error;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const ECONNRESET: i32 = 104;
const EPIPE: i32 = 32;
const ECONNREFUSED: i32 = 111;

/// xorshift64*: deterministic test data without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(len + 8);
        while v.len() < len {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(len);
        v
    }
}

/// FNV-1a.
fn checksum(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &x| (h ^ x as u64).wrapping_mul(0x100_0000_01b3))
}

/// Echoes until end of stream, then shuts down the write side; returns the
/// bytes echoed.
fn echo(s: TcpStream) -> u64 {
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0;
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                s.write_all(&buf[..n]).unwrap();
                total += n as u64;
            }
            Err(e) => panic!("echo read: {e}"),
        }
    }
    s.shutdown(Shutdown::Write).unwrap();
    total
}

fn read_exact(s: &TcpStream, mut buf: &mut [u8]) {
    while !buf.is_empty() {
        match s.read(buf) {
            Ok(0) => panic!("unexpected end of stream"),
            Ok(n) => buf = &mut buf[n..],
            Err(e) => panic!("read: {e}"),
        }
    }
}

fn read_to_end(s: &TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut buf).unwrap() {
            0 => return out,
            n => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// A connected pair: (client, server side).
fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, peer) = l.accept().unwrap();
    assert_eq!(peer, c.local_addr().unwrap());
    (c, s)
}

/// Writes into a stream whose peer does not read until the buffers are
/// full and a write would park (bounded by a write timeout).
fn fill(s: &TcpStream) {
    s.set_write_timeout(Some(Duration::from_millis(50))).unwrap();
    let chunk = vec![7u8; 256 * 1024];
    loop {
        match s.write(&chunk) {
            Ok(_) => {}
            Err(Error::TimedOut) => break,
            Err(e) => panic!("fill: {e}"),
        }
    }
    s.set_write_timeout(None).unwrap();
}

const CONNS: usize = 1000;
static BIG: goro::Runtime<{ 2 * CONNS + 64 }, { 2 * CONNS + 64 }> = goro::Runtime::new();

#[test]
fn a_thousand_concurrent_connections_echo_random_messages_intact() {
    let (sent, echoed, big) = BIG
        .run(goro::Config::new().stack_size(64 * 1024), || {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = goro::spawn(move || {
                let hs: Vec<_> = (0..CONNS)
                    .map(|_| {
                        let (s, _) = listener.accept().unwrap();
                        goro::spawn(move || echo(s)).unwrap()
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
            })
            .unwrap();
            let connected = Arc::new(AtomicUsize::new(0));
            let clients: Vec<_> = (0..CONNS)
                .map(|i| {
                    let connected = connected.clone();
                    goro::spawn(move || client(i, addr, &connected)).unwrap()
                })
                .collect();
            let (mut sent, mut big) = (0, 0);
            for h in clients {
                let (n, b) = h.join().unwrap();
                sent += n;
                big += b as usize;
            }
            (sent, server.join().unwrap(), big)
        })
        .unwrap();
    assert_eq!(sent, echoed);
    assert_eq!(big, CONNS / 100);
}

/// One client: connects, waits until all `CONNS` are connected (so they
/// really are concurrent), then sends random messages and checks each
/// echo. Every 100th client streams 1 MiB messages from a second goroutine
/// while it reads (one stream shared by a reader and a writer).
fn client(i: usize, addr: std::net::SocketAddr, connected: &AtomicUsize) -> (u64, bool) {
    let s = Arc::new(TcpStream::connect(addr).unwrap());
    connected.fetch_add(1, Ordering::SeqCst);
    while connected.load(Ordering::SeqCst) < CONNS {
        goro::sleep(Duration::from_millis(2));
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1).wrapping_mul(0x1234_5678_9abc_def1));
    let big = i.is_multiple_of(100);
    let mut sent = 0u64;
    for _ in 0..3 {
        let len = if big { 1 << 20 } else { 1 + rng.below(16 * 1024) as usize };
        let msg = Arc::new(rng.bytes(len));
        let mut back = vec![0u8; len];
        if big {
            let (w, m) = (s.clone(), msg.clone());
            let writer = goro::spawn(move || w.write_all(&m)).unwrap();
            read_exact(&s, &mut back);
            writer.join().unwrap().unwrap();
        } else {
            s.write_all(&msg).unwrap();
            read_exact(&s, &mut back);
        }
        assert_eq!(checksum(&back), checksum(&msg), "client {i}: echo differs");
        assert!(back == *msg);
        sent += len as u64;
    }
    s.shutdown(Shutdown::Write).unwrap();
    let mut b = [0u8; 1];
    assert_eq!(s.read(&mut b).unwrap(), 0, "server closes after our FIN");
    (sent, big)
}

#[test]
fn half_close_gets_every_byte_back_then_eof() {
    let (got, want) = goro::run(|| {
        let (c, s) = tcp_pair();
        let server = goro::spawn(move || echo(s)).unwrap();
        let c = Arc::new(c);
        let data = Rng(7).bytes(3 << 20);
        let (w, d) = (c.clone(), data.clone());
        let writer = goro::spawn(move || {
            w.write_all(&d).unwrap();
            w.shutdown(Shutdown::Write).unwrap();
        })
        .unwrap();
        let got = read_to_end(&c);
        writer.join().unwrap();
        assert_eq!(server.join().unwrap(), data.len() as u64);
        // End of stream stays end of stream.
        assert_eq!(c.read(&mut [0u8; 8]).unwrap(), 0);
        (got, data)
    })
    .unwrap();
    assert_eq!(got.len(), want.len());
    assert!(got == want);
}

#[test]
fn peer_reset_is_econnreset_and_writes_fail_without_sigpipe() {
    let (read_err, write_err) = goro::run(|| {
        let (c, s) = tcp_pair();
        let s = Arc::new(s);
        let s2 = s.clone();
        // Parked in read when the reset arrives (or reads it at once).
        let reader = goro::spawn(move || s2.read(&mut [0u8; 16])).unwrap();
        goro::sleep(Duration::from_millis(5));
        c.set_linger(Some(Duration::ZERO)).unwrap();
        assert_eq!(c.linger().unwrap(), Some(Duration::ZERO));
        drop(c); // close with linger 0: RST
        let read_err = reader.join().unwrap();
        let mut write_err = None;
        for _ in 0..100 {
            if let Err(e) = s.write(b"after the reset") {
                write_err = Some(e);
                break;
            }
            goro::sleep(Duration::from_millis(1));
        }
        (read_err, write_err)
    })
    .unwrap();
    assert_eq!(read_err, Err(Error::Os(ECONNRESET)));
    let we = write_err.expect("writes to a reset connection fail");
    assert!(we == Error::Os(EPIPE) || we == Error::Os(ECONNRESET), "{we:?}");
}

#[test]
fn read_timeout_and_deadline_give_timed_out() {
    goro::run(|| {
        let (c, s) = tcp_pair();
        let mut buf = [0u8; 8];
        // Per-operation timeout: each read times out, data resets nothing.
        c.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        assert_eq!(c.read_timeout().unwrap(), Some(Duration::from_millis(10)));
        assert_eq!(c.read(&mut buf), Err(Error::TimedOut));
        s.write_all(b"abc").unwrap();
        assert_eq!(c.read(&mut buf).unwrap(), 3);
        assert_eq!(c.read(&mut buf), Err(Error::TimedOut));
        c.set_read_timeout(None).unwrap();
        assert!(matches!(c.set_read_timeout(Some(Duration::ZERO)), Err(Error::InvalidInput(_))));

        // Deadline: sticky until changed, even with data waiting.
        c.set_read_deadline(Some(goro::time::Instant::now() + Duration::from_millis(10))).unwrap();
        assert_eq!(c.read(&mut buf), Err(Error::TimedOut));
        s.write_all(b"de").unwrap();
        assert_eq!(c.read(&mut buf), Err(Error::TimedOut));
        c.set_read_deadline(None).unwrap();
        assert_eq!(c.read(&mut buf).unwrap(), 2);

        // A deadline moved into the past wakes a parked reader.
        let c = Arc::new(c);
        let c2 = c.clone();
        let reader = goro::spawn(move || c2.read(&mut [0u8; 8])).unwrap();
        goro::sleep(Duration::from_millis(5));
        c.set_read_deadline(Some(goro::time::Instant::now())).unwrap();
        assert_eq!(reader.join().unwrap(), Err(Error::TimedOut));
    })
    .unwrap();
}

/// A read parked with a timeout keeps it whatever another goroutine does to
/// the deadline or the timeout meanwhile (clearing the deadline, moving it
/// far out, clearing the timeout): it still ends with `TimedOut`, not
/// parked until data comes. And a finished read's timeout, left to expire,
/// never fails a later read that has none.
#[test]
fn deadline_and_timeout_changes_keep_a_parked_reads_timeout() {
    use goro::sync::Channel;
    use goro::time::Instant;
    static DONE: Channel<Result<usize, Error>, 1> = Channel::new();
    goro::run(|| {
        let (c, s) = tcp_pair();
        let c = Arc::new(c);
        let changes: [fn(&TcpStream); 3] = [
            |c| c.set_read_deadline(None).unwrap(),
            |c| c.set_read_deadline(Some(Instant::now() + Duration::from_secs(3600))).unwrap(),
            |c| c.set_read_timeout(None).unwrap(),
        ];
        for (k, change) in changes.into_iter().enumerate() {
            c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            let c2 = c.clone();
            goro::spawn(move || DONE.send(c2.read(&mut [0u8; 8])).unwrap()).unwrap();
            goro::sleep(Duration::from_millis(5));
            change(&c);
            // No data ever comes: without its timeout the read parks for good.
            assert_eq!(DONE.recv_timeout(Duration::from_secs(20)), Ok(Err(Error::TimedOut)), "change {k}");
        }

        // A read with a 20 ms timeout finds data at once; its timeout
        // passes before the next read, which has no timeout and waits for
        // data.
        c.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        s.write_all(b"a").unwrap();
        assert_eq!(c.read(&mut [0u8; 8]), Ok(1));
        c.set_read_timeout(None).unwrap();
        goro::sleep(Duration::from_millis(40));
        let writer = goro::spawn(move || {
            goro::sleep(Duration::from_millis(20));
            s.write_all(b"bc").unwrap();
            s
        })
        .unwrap();
        assert_eq!(c.read(&mut [0u8; 8]), Ok(2));
        drop(writer.join().unwrap());
    })
    .unwrap();
}

#[test]
fn write_timeout_and_deadline_give_timed_out_when_the_peer_does_not_read() {
    goro::run(|| {
        let (c, _s) = tcp_pair();
        // More than the socket buffers can ever hold while nobody reads.
        let big = vec![1u8; 64 << 20];
        fill(&c); // returns once a write timed out
        c.set_write_timeout(Some(Duration::from_millis(10))).unwrap();
        assert_eq!(c.write_all(&big), Err(Error::TimedOut));
        c.set_write_timeout(None).unwrap();
        c.set_write_deadline(Some(goro::time::Instant::now() + Duration::from_millis(10))).unwrap();
        assert_eq!(c.write_all(&big), Err(Error::TimedOut));
        assert_eq!(c.write(b"x"), Err(Error::TimedOut), "an expired deadline is sticky");
        c.set_write_deadline(None).unwrap();
    })
    .unwrap();
}

#[test]
fn accept_timeout_and_deadline_give_timed_out() {
    goro::run(|| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_accept_timeout(Some(Duration::from_millis(10))).unwrap();
        assert_eq!(l.accept().err(), Some(Error::TimedOut));
        l.set_accept_timeout(None).unwrap();
        l.set_accept_deadline(Some(goro::time::Instant::now() + Duration::from_millis(10))).unwrap();
        assert_eq!(l.accept().err(), Some(Error::TimedOut));
        assert_eq!(l.accept().err(), Some(Error::TimedOut), "sticky");
        l.set_accept_deadline(None).unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        assert_eq!(s.peer_addr().unwrap(), c.local_addr().unwrap());
    })
    .unwrap();
}

#[test]
fn connect_timeout_to_a_listener_with_a_full_backlog() {
    goro::run(|| {
        // Backlog 0: the kernel queues one connection, then drops SYNs
        // (nobody accepts), so a later connect stays in progress.
        let l = TcpListener::bind_with_backlog("127.0.0.1:0", 0).unwrap();
        let addr = l.local_addr().unwrap();
        let mut queued = Vec::new();
        let mut timed_out = false;
        for _ in 0..16 {
            match TcpStream::connect_timeout(addr, Duration::from_millis(100)) {
                Ok(s) => queued.push(s),
                Err(Error::TimedOut) => {
                    timed_out = true;
                    break;
                }
                Err(e) => panic!("connect_timeout: {e}"),
            }
        }
        assert!(timed_out, "no connect timed out ({} queued)", queued.len());
        assert!(matches!(TcpStream::connect_timeout(addr, Duration::ZERO), Err(Error::InvalidInput(_))));
    })
    .unwrap();
}

#[test]
fn close_wakes_goroutines_parked_in_read_write_and_accept() {
    let (r, w, a) = goro::run(|| {
        let (c, _s) = tcp_pair();
        let c = Arc::new(c);
        let c2 = c.clone();
        let reader = goro::spawn(move || c2.read(&mut [0u8; 8])).unwrap();

        let (d, _t) = tcp_pair();
        fill(&d);
        let d = Arc::new(d);
        let d2 = d.clone();
        let writer = goro::spawn(move || d2.write_all(&vec![3u8; 64 << 20])).unwrap();

        let l = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let l2 = l.clone();
        let acceptor = goro::spawn(move || l2.accept().map(|_| ())).unwrap();

        goro::sleep(Duration::from_millis(10)); // let them park
        c.close().unwrap();
        d.close().unwrap();
        l.close().unwrap();
        assert_eq!(c.close(), Err(Error::Closed));
        assert_eq!(c.read(&mut [0u8; 1]), Err(Error::Closed));
        (reader.join().unwrap(), writer.join().unwrap(), acceptor.join().unwrap())
    })
    .unwrap();
    assert_eq!(r, Err(Error::Closed));
    assert_eq!(w, Err(Error::Closed));
    assert_eq!(a, Err(Error::Closed));
}

#[test]
fn shutdown_read_wakes_a_parked_reader_with_end_of_stream() {
    let r = goro::run(|| {
        let (c, _s) = tcp_pair();
        let c = Arc::new(c);
        let c2 = c.clone();
        let reader = goro::spawn(move || c2.read(&mut [0u8; 8])).unwrap();
        goro::sleep(Duration::from_millis(5));
        c.shutdown(Shutdown::Read).unwrap();
        reader.join().unwrap()
    })
    .unwrap();
    assert_eq!(r, Ok(0));
}

#[test]
fn incoming_yields_connections_and_ends_when_the_listener_closes() {
    let n = goro::run(|| {
        let l = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = l.local_addr().unwrap();
        let l2 = l.clone();
        let counter = goro::spawn(move || l2.incoming().map(|s| drop(s.unwrap())).count()).unwrap();
        for _ in 0..3 {
            let c = TcpStream::connect(addr).unwrap();
            // The acceptor drops the stream: end of stream once accepted.
            assert_eq!(c.read(&mut [0u8; 1]).unwrap(), 0);
        }
        l.close().unwrap();
        counter.join().unwrap()
    })
    .unwrap();
    assert_eq!(n, 3);
}

#[test]
fn vectored_reads_and_writes() {
    goro::run(|| {
        let (c, s) = tcp_pair();
        let n = c.write_vectored(&[&b"hello "[..], &b""[..], &b"vectored "[..], &b"world"[..]]).unwrap();
        assert_eq!(n, 20);
        let (mut a, mut b) = ([0u8; 6], [0u8; 64]);
        // One sendmsg of 20 bytes is one segment: it arrives whole.
        let got = s.read_vectored(&mut [&mut a[..], &mut b[..]]).unwrap();
        assert_eq!(got, 20);
        assert_eq!(&a, b"hello ");
        assert_eq!(&b[..14], b"vectored world");
        let empty: [&[u8]; 0] = [];
        assert_eq!(c.write_vectored(&empty).unwrap(), 0);
    })
    .unwrap();
}

fn std_round_trip(mut w: impl std::io::Write, mut r: impl std::io::Read, msg: &[u8]) {
    w.write_all(msg).unwrap();
    w.flush().unwrap();
    let mut got = vec![0u8; msg.len()];
    r.read_exact(&mut got).unwrap();
    assert_eq!(got, msg);
}

fn embedded_round_trip(mut w: impl embedded_io::Write, mut r: impl embedded_io::Read, msg: &[u8]) {
    w.write_all(msg).unwrap();
    w.flush().unwrap();
    let mut got = vec![0u8; msg.len()];
    r.read_exact(&mut got).unwrap();
    assert_eq!(got, msg);
}

#[test]
fn std_io_and_embedded_io_traits_work_on_streams_and_shared_references() {
    goro::run(|| {
        let (c, s) = tcp_pair();
        // Through generic code, so the trait methods (not the inherent
        // ones) run; by value and through shared references.
        std_round_trip(&c, &s, b"std io via refs");
        embedded_round_trip(&c, &s, b"embedded-io via refs");
        let (c, s) = tcp_pair();
        let bufs = [std::io::IoSlice::new(b"ab"), std::io::IoSlice::new(b"cd")];
        assert_eq!(std::io::Write::write_vectored(&mut &c, &bufs).unwrap(), 4);
        let (mut x, mut y) = ([0u8; 1], [0u8; 3]);
        let mut rbufs = [std::io::IoSliceMut::new(&mut x), std::io::IoSliceMut::new(&mut y)];
        assert_eq!(std::io::Read::read_vectored(&mut &s, &mut rbufs).unwrap(), 4);
        assert_eq!((&x, &y), (b"a", b"bcd"));
        std_round_trip(c, s, b"std io by value");
        let (c, s) = tcp_pair();
        embedded_round_trip(c, s, b"embedded-io by value");
        // goro::poll::Fd (a pipe) and Unix streams have them too.
        let (r, w) = goro::poll::Fd::pipe().unwrap();
        std_round_trip(&w, &r, b"pipe, std");
        embedded_round_trip(w, r, b"pipe, embedded-io");
        let (a, b) = goro::net::UnixStream::pair().unwrap();
        std_round_trip(&a, &b, b"unix, std");
        embedded_round_trip(a, b, b"unix, embedded-io");
        // Error conversions.
        let e: std::io::Error = Error::TimedOut.into();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        let e: std::io::Error = Error::Os(ECONNRESET).into();
        assert_eq!((e.kind(), e.raw_os_error()), (std::io::ErrorKind::ConnectionReset, Some(ECONNRESET)));
        let e: std::io::Error = Error::Closed.into();
        assert_eq!(e.kind(), std::io::ErrorKind::NotConnected);
        assert_eq!(embedded_io::Error::kind(&Error::Os(EPIPE)), embedded_io::ErrorKind::BrokenPipe);
        assert_eq!(embedded_io::Error::kind(&Error::TimedOut), embedded_io::ErrorKind::TimedOut);
    })
    .unwrap();
}

/// A TCP connect always waits, so a thread outside the runtime gets
/// `NotInGoroutine` before anything is sent: the listener sees no
/// connection come and go.
#[test]
fn connect_from_a_host_thread_is_refused_before_sending() {
    goro::run(|| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let (a, b) = std::thread::spawn(move || {
            (TcpStream::connect(addr).err(), TcpStream::connect_timeout(addr, Duration::from_secs(1)).err())
        })
        .join()
        .unwrap();
        assert_eq!((a, b), (Some(Error::NotInGoroutine), Some(Error::NotInGoroutine)));
        l.set_accept_timeout(Some(Duration::from_millis(50))).unwrap();
        assert_eq!(l.accept().err(), Some(Error::TimedOut));
    })
    .unwrap();
}

#[test]
fn options_and_addresses() {
    goro::run(|| {
        let (c, s) = tcp_pair();
        c.set_nodelay(true).unwrap();
        assert!(c.nodelay().unwrap());
        c.set_nodelay(false).unwrap();
        assert!(!c.nodelay().unwrap());
        c.set_ttl(33).unwrap();
        assert_eq!(c.ttl().unwrap(), 33);
        assert_eq!(c.peer_addr().unwrap(), s.local_addr().unwrap());
        assert_eq!(s.peer_addr().unwrap(), c.local_addr().unwrap());
        assert_eq!(c.take_error().unwrap(), None);
        assert_eq!(c.flush(), Ok(()));
        assert!(format!("{c:?}").contains("TcpStream"));
    })
    .unwrap();
}

#[test]
fn refused_connections_and_unresolvable_names_are_errors() {
    goro::run(|| {
        let addr = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        }; // closed: nothing listens there now
        assert_eq!(TcpStream::connect(addr).err(), Some(Error::Os(ECONNREFUSED)));
        assert!(matches!(TcpStream::connect("example.com:80"), Err(Error::InvalidInput(_))));
        // "localhost" is 127.0.0.1.
        let l = TcpListener::bind("localhost:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let c = TcpStream::connect(("localhost", port)).unwrap();
        assert_eq!(c.peer_addr().unwrap(), l.local_addr().unwrap());
    })
    .unwrap();
}

#[test]
fn ipv6_loopback_echo() {
    let r = goro::run(|| {
        let l = match TcpListener::bind("[::1]:0") {
            Ok(l) => l,
            Err(e) => return Err(e), // no IPv6 on this machine
        };
        let addr = l.local_addr().unwrap();
        assert!(addr.is_ipv6());
        let server = goro::spawn(move || echo(l.accept().unwrap().0)).unwrap();
        let c = TcpStream::connect(addr).unwrap();
        c.write_all(b"six").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let got = read_to_end(&c);
        server.join().unwrap();
        Ok(got)
    })
    .unwrap();
    match r {
        Ok(got) => assert_eq!(got, b"six"),
        Err(e) => eprintln!("skipped: no IPv6 loopback ({e})"),
    }
}

#[test]
fn socket_address_parsing() {
    let ok = |s: &str| s.to_socket_addr().unwrap().to_string();
    assert_eq!(ok("1.2.3.4:80"), "1.2.3.4:80");
    assert_eq!(ok("[::1]:8080"), "[::1]:8080");
    assert_eq!(ok("localhost:1"), "127.0.0.1:1");
    assert_eq!(ok("LOCALHOST:2"), "127.0.0.1:2");
    assert_eq!(("::1".parse::<std::net::IpAddr>().unwrap(), 9).to_socket_addr().unwrap().to_string(), "[::1]:9");
    assert_eq!(("10.0.0.1", 7).to_socket_addr().unwrap().to_string(), "10.0.0.1:7");
    assert_eq!(String::from("127.0.0.1:5").to_socket_addr().unwrap().port(), 5);
    let missing = ":80".to_socket_addr().unwrap_err().to_string();
    assert!(missing.contains("missing host"), "{missing}");
    // System errors say what they mean, with the number.
    assert_eq!(Error::Os(98).to_string(), "address already in use (os error 98)");
    assert_eq!(Error::Os(111).to_string(), "connection refused (os error 111)");
    assert_eq!(Error::Os(4095).to_string(), "os error 4095");
    for bad in ["example.com:80", "1.2.3.4", "::1:80", "1.2.3.4:99999", "[::1]", "", ":80"] {
        assert!(matches!(bad.to_socket_addr(), Err(Error::InvalidInput(_))), "{bad}");
    }
}

/// Reads until `n` bytes arrived, end of stream, or an error (the stream's
/// read timeout turns a stalled read into `TimedOut`).
fn read_up_to(s: &TcpStream, n: usize) -> Result<Vec<u8>, Error> {
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while got.len() < n {
        match s.read(&mut buf)? {
            0 => break,
            k => got.extend_from_slice(&buf[..k]),
        }
    }
    Ok(got)
}

/// Runs `f(client, server)` on a fresh connected pair on one P, where
/// nothing polls while a goroutine runs; the server side gives up a read
/// after 3 s (`TimedOut`), so a read that would hang fails the test.
fn on_one_p<T: Send + 'static>(f: impl FnOnce(TcpStream, TcpStream) -> T + Send + 'static) -> T {
    static RT: goro::Runtime = goro::Runtime::new();
    RT.run(goro::Config::new().procs(1), move || {
        let (c, s) = tcp_pair();
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        f(c, s)
    })
    .unwrap()
}

/// A TCP read stops short at the urgent mark with bytes queued behind it,
/// so there a short read does not mean the socket was drained. The reader
/// is parked when everything arrives (one coalesced edge, on one P where
/// nothing polls while the sender runs); after its short read it must
/// still get the rest without a further event, not park until the timeout.
#[test]
fn a_short_read_at_the_urgent_mark_does_not_stall_the_next_read() {
    let got = on_one_p(|c, s| {
        let reader = goro::spawn(move || read_up_to(&s, 6)).unwrap();
        // The reader runs and parks: nothing to read yet.
        goro::yield_now();
        // SAFETY: `c` owns this fd and outlives the borrow (three sends below).
        let fd = unsafe { rustix::fd::BorrowedFd::borrow_raw(c.as_raw_fd()) };
        use rustix::net::{send, SendFlags};
        assert_eq!(send(fd, b"abc", SendFlags::empty()), Ok(3));
        assert_eq!(send(fd, b"X", SendFlags::OOB), Ok(1)); // the urgent byte
        assert_eq!(send(fd, b"def", SendFlags::empty()), Ok(3));
        reader.join().unwrap()
    });
    // The urgent byte is out of band (no SO_OOBINLINE): the stream skips it.
    assert_eq!(got, Ok(b"abcdef".to_vec()));
}

/// The short-read guard (DESIGN.md: skip the `EAGAIN` read only if no
/// readiness edge arrived since the short read). The reader reads "abc"
/// short, then waits on a channel while "def" arrives and the scheduler
/// consumes its edge. Its next read resets the descriptor's readiness, as
/// every read does; only the event counter still says data came, and the
/// read must not skip the system call and park with "def" queued.
#[test]
fn an_edge_consumed_between_a_short_read_and_the_next_read_is_not_lost() {
    static GO: goro::sync::Channel<(), 0> = goro::sync::Channel::new();
    let got = on_one_p(|c, s| {
        c.write_all(b"abc").unwrap();
        let reader = goro::spawn(move || {
            let mut buf = [0u8; 64];
            let first = s.read(&mut buf)?; // "abc": short
            GO.recv().unwrap(); // away while "def" arrives
            let second = s.read(&mut buf[first..])?;
            Ok::<_, Error>(buf[..first + second].to_vec())
        })
        .unwrap();
        goro::yield_now(); // the reader reads "abc" and parks on GO
        c.write_all(b"def").unwrap();
        // Nothing is runnable while we sleep: the scheduler polls and
        // consumes the edge of "def" (the reader waits on GO, not on the
        // socket).
        goro::sleep(Duration::from_millis(20));
        GO.send(()).unwrap();
        reader.join().unwrap()
    });
    assert_eq!(got, Ok(b"abcdef".to_vec()));
}

/// `peek` parks until bytes arrive and leaves them queued for `read`, also
/// right after a short read (the next read must not skip its system call
/// and wait for an edge that the peeked bytes already raised); at end of
/// stream it returns 0.
#[test]
fn peek_parks_until_data_and_leaves_it_for_read() {
    goro::run(|| {
        let (c, s) = tcp_pair();
        let s = Arc::new(s);
        let s2 = s.clone();
        let peeker = goro::spawn(move || {
            let mut b = [0u8; 16];
            let n = s2.peek(&mut b).unwrap();
            b[..n].to_vec()
        })
        .unwrap();
        goro::sleep(Duration::from_millis(5));
        c.write_all(b"hello").unwrap();
        assert_eq!(peeker.join().unwrap(), b"hello");
        let mut b = [0u8; 16];
        assert_eq!(s.read(&mut b).unwrap(), 5, "a short read: the socket is drained");
        assert_eq!(&b[..5], b"hello");
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        c.write_all(b"again").unwrap();
        assert_eq!(s.peek(&mut b).unwrap(), 5);
        assert_eq!(s.read(&mut b), Ok(5));
        assert_eq!(&b[..5], b"again");
        c.shutdown(Shutdown::Write).unwrap();
        assert_eq!(s.peek(&mut b), Ok(0));
        assert_eq!(s.peek(&mut []), Ok(0));
    })
    .unwrap();
}
