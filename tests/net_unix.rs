//! Unix-domain sockets: path and abstract streams, datagrams, pairs.

use goro::net::{Shutdown, UnixAddr, UnixDatagram, UnixListener, UnixStream};
use goro::Error;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A fresh socket path in the temp dir (removed first), as bytes.
fn sock_path(name: &str) -> String {
    let p = std::env::temp_dir().join(format!("goro-{}-{name}.sock", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p.to_str().unwrap().to_owned()
}

fn abstract_name(name: &str) -> Vec<u8> {
    format!("goro-test-{}-{name}", std::process::id()).into_bytes()
}

fn echo(s: UnixStream) {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf).unwrap() {
            0 => break,
            n => s.write_all(&buf[..n]).unwrap(),
        }
    }
    s.shutdown(Shutdown::Write).unwrap();
}

fn read_to_end(s: &UnixStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf).unwrap() {
            0 => return out,
            n => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// Sends `data` from a second goroutine (then half-closes) while reading
/// the echo back.
fn round_trip(c: UnixStream, data: Vec<u8>) -> Vec<u8> {
    let c = Arc::new(c);
    let w = c.clone();
    let writer = goro::spawn(move || {
        w.write_all(&data).unwrap();
        w.shutdown(Shutdown::Write).unwrap();
    })
    .unwrap();
    let got = read_to_end(&c);
    writer.join().unwrap();
    got
}

#[test]
fn path_stream_echo_and_addresses() {
    let path = sock_path("stream");
    let p2 = path.clone();
    let got = goro::run(move || {
        let l = UnixListener::bind(&p2).unwrap();
        assert_eq!(l.local_addr().unwrap().as_pathname(), Some(p2.as_bytes()));
        let server = goro::spawn(move || {
            let (s, peer) = l.accept().unwrap();
            assert!(peer.is_unnamed(), "{peer:?}");
            echo(s)
        })
        .unwrap();
        let c = UnixStream::connect(p2.as_str()).unwrap();
        assert_eq!(c.peer_addr().unwrap().as_pathname(), Some(p2.as_bytes()));
        assert!(c.local_addr().unwrap().is_unnamed());
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let got = round_trip(c, data.clone());
        server.join().unwrap();
        assert!(got == data);
        got.len()
    })
    .unwrap();
    assert_eq!(got, 200_000);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn abstract_stream_echo() {
    let name = abstract_name("stream");
    goro::run(move || {
        let l = UnixListener::bind_abstract(&name).unwrap();
        let addr = l.local_addr().unwrap();
        assert_eq!(addr.as_abstract_name(), Some(&name[..]));
        assert_eq!(addr.as_pathname(), None);
        let server = goro::spawn(move || echo(l.accept().unwrap().0)).unwrap();
        let c = UnixStream::connect_abstract(&name).unwrap();
        assert_eq!(c.peer_addr().unwrap(), addr);
        assert_eq!(round_trip(c, b"abstract".to_vec()), b"abstract");
        server.join().unwrap();
        // The listener is gone (dropped by the server goroutine): its
        // address now refuses connections.
        assert_eq!(UnixStream::connect_addr(&addr).err(), Some(Error::Os(111)));
        // ECONNREFUSED
    })
    .unwrap();
}

#[test]
fn pair_streams_half_close_and_vectored_io() {
    goro::run(|| {
        let (a, b) = UnixStream::pair().unwrap();
        assert!(a.peer_addr().unwrap().is_unnamed());
        assert!(a.local_addr().unwrap().is_unnamed());
        assert_eq!(a.write_vectored(&[&b"vec"[..], &b"tored"[..]]).unwrap(), 8);
        let (mut x, mut y) = ([0u8; 3], [0u8; 16]);
        assert_eq!(b.read_vectored(&mut [&mut x[..], &mut y[..]]).unwrap(), 8);
        assert_eq!((&x, &y[..5]), (b"vec", &b"tored"[..]));
        a.shutdown(Shutdown::Write).unwrap();
        assert_eq!(b.read(&mut y).unwrap(), 0);
        b.write_all(b"still open this way").unwrap();
        assert_eq!(read_to_end_limited(&a, 19), b"still open this way");
    })
    .unwrap();
}

fn read_to_end_limited(s: &UnixStream, n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    let mut got = 0;
    while got < n {
        got += s.read(&mut out[got..]).unwrap();
    }
    out
}

#[test]
fn datagrams_by_path_abstract_and_pair() {
    let (pa, pb) = (sock_path("dgram-a"), sock_path("dgram-b"));
    let (pa2, pb2) = (pa.clone(), pb.clone());
    goro::run(move || {
        let a = UnixDatagram::bind(&pa2).unwrap();
        let b = UnixDatagram::bind(pb2.as_bytes()).unwrap();
        a.send_to(b"to b", &pb2).unwrap();
        let mut buf = [0u8; 32];
        let (n, from) = b.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from.as_pathname()), (&b"to b"[..], Some(pa2.as_bytes())));
        // An unbound sender is unnamed.
        let u = UnixDatagram::unbound().unwrap();
        u.send_to(b"anon", &pb2).unwrap();
        let (n, from) = b.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"anon");
        assert!(from.is_unnamed());
        // Connected: send/recv, datagram boundaries kept.
        u.connect(&pb2).unwrap();
        u.send(b"1").unwrap();
        u.send(b"22").unwrap();
        assert_eq!(b.recv(&mut buf).unwrap(), 1);
        assert_eq!(b.peek(&mut buf).unwrap(), 2);
        assert_eq!(b.recv(&mut buf).unwrap(), 2);
        assert_eq!(u.peer_addr().unwrap().as_pathname(), Some(pb2.as_bytes()));

        // Abstract datagram sockets.
        let name = abstract_name("dgram");
        let c = UnixDatagram::bind_abstract(&name).unwrap();
        a.send_to_abstract(b"abs", &name).unwrap();
        let (n, from) = c.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from.as_pathname()), (&b"abs"[..], Some(pa2.as_bytes())));
        a.connect_abstract(&name).unwrap();
        a.send(b"again").unwrap();
        assert_eq!(c.recv(&mut buf).unwrap(), 5);

        // A pair; a receiver parked before the datagram arrives.
        let (x, y) = UnixDatagram::pair().unwrap();
        let y = Arc::new(y);
        let y2 = y.clone();
        let rx = goro::spawn(move || {
            let mut b = [0u8; 8];
            let n = y2.recv(&mut b).unwrap();
            b[..n].to_vec()
        })
        .unwrap();
        goro::sleep(Duration::from_millis(2));
        x.send(b"pair").unwrap();
        assert_eq!(rx.join().unwrap(), b"pair");
        y.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
        assert_eq!(y.recv(&mut buf), Err(Error::TimedOut));
    })
    .unwrap();
    std::fs::remove_file(&pa).unwrap();
    std::fs::remove_file(&pb).unwrap();
}

#[test]
fn close_wakes_a_parked_unix_accept_and_accept_times_out() {
    let name = abstract_name("accept");
    let r = goro::run(move || {
        let l = Arc::new(UnixListener::bind_abstract(&name).unwrap());
        l.set_accept_timeout(Some(Duration::from_millis(5))).unwrap();
        assert_eq!(l.accept().err(), Some(Error::TimedOut));
        l.set_accept_timeout(None).unwrap();
        let l2 = l.clone();
        let accepted = Arc::new(AtomicUsize::new(0));
        let a2 = accepted.clone();
        let acceptor = goro::spawn(move || {
            l2.incoming()
                .inspect(|_| {
                    a2.fetch_add(1, Ordering::SeqCst);
                })
                .count()
        })
        .unwrap();
        let _c = UnixStream::connect_abstract(&name).unwrap();
        // Close only once the connection was accepted: with two Ps the
        // acceptor may run on another M that has not got to it yet (a fixed
        // sleep is only a guess, and threads are slow under qemu-user). The
        // bound only turns a hang into a failure.
        let t = std::time::Instant::now();
        while accepted.load(Ordering::SeqCst) == 0 {
            assert!(t.elapsed() < Duration::from_secs(60), "the connection was never accepted");
            goro::sleep(Duration::from_millis(1));
        }
        goro::sleep(Duration::from_millis(5)); // let it park in the next accept (or not: same result)
        l.close().unwrap();
        acceptor.join().unwrap()
    })
    .unwrap();
    assert_eq!(r, 1);
}

#[test]
fn bad_unix_addresses_are_invalid_input() {
    let too_long = "x".repeat(200);
    assert!(matches!(UnixAddr::from_pathname(&too_long), Err(Error::InvalidInput(_))));
    assert!(matches!(UnixAddr::from_pathname(""), Err(Error::InvalidInput(_))));
    assert!(matches!(UnixAddr::from_pathname(b"a\0b"), Err(Error::InvalidInput(_))));
    assert!(matches!(UnixAddr::from_abstract_name(&too_long), Err(Error::InvalidInput(_))));
    let a = UnixAddr::from_pathname("/tmp/x.sock").unwrap();
    assert_eq!(format!("{a:?}"), "\"/tmp/x.sock\" (pathname)");
    let b = UnixAddr::from_abstract_name("name").unwrap();
    assert_eq!(format!("{b:?}"), "\"name\" (abstract)");
    assert!(!b.is_unnamed());
    goro::run(move || {
        assert!(matches!(UnixListener::bind(&too_long), Err(Error::InvalidInput(_))));
        // Nothing listens there.
        assert_eq!(UnixStream::connect("/nonexistent/goro.sock").err(), Some(Error::Os(2)));
        // ENOENT
    })
    .unwrap();
}

/// A path of the full 108 bytes leaves `sun_path` no room for its NUL, and
/// the kernel then reports the address one byte longer than
/// `sockaddr_un`. Reading such an address back (a listener's own, a
/// stream's peer, a datagram's sender, which any local process can choose)
/// gives the path, not a panic, and loses no datagram.
#[test]
fn addresses_of_full_length_paths_read_back() {
    let full = |name: &str| {
        let mut p = sock_path(name);
        assert!(p.len() < 108, "temp dir too long for this test: {p}");
        while p.len() < 108 {
            p.push('x');
        }
        let _ = std::fs::remove_file(&p);
        p
    };
    let (lp, dp, sp) = (full("l108"), full("d108"), full("s108"));
    let (lp2, dp2, sp2) = (lp.clone(), dp.clone(), sp.clone());
    goro::run(move || {
        let l = UnixListener::bind(&lp2).unwrap();
        assert_eq!(l.local_addr().unwrap().as_pathname(), Some(lp2.as_bytes()));
        let c = UnixStream::connect(&lp2).unwrap();
        assert_eq!(c.peer_addr().unwrap().as_pathname(), Some(lp2.as_bytes()));
        let (s, _) = l.accept().unwrap();
        assert_eq!(s.local_addr().unwrap().as_pathname(), Some(lp2.as_bytes()));

        let d = UnixDatagram::bind(&dp2).unwrap();
        let sender = UnixDatagram::bind(&sp2).unwrap();
        assert_eq!(sender.send_to(b"full", &dp2).unwrap(), 4);
        let mut buf = [0u8; 8];
        let (n, from) = d.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"full");
        assert_eq!(from.as_pathname(), Some(sp2.as_bytes()));
    })
    .unwrap();
    for p in [lp, dp, sp] {
        let _ = std::fs::remove_file(p);
    }
}

/// A Unix stream read stops after a message that carried file descriptors,
/// with the bytes sent after it still queued: there a short read does not
/// mean the socket was drained. The reader is parked when everything
/// arrives (one coalesced edge, on one P); it must get the rest without a
/// further event, not park until its timeout.
#[test]
fn a_short_read_after_passed_fds_does_not_stall_the_next_read() {
    use rustix::net::{sendmsg, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    use std::io::IoSlice;
    use std::mem::MaybeUninit;
    static RT: goro::Runtime = goro::Runtime::new();
    let got = RT
        .run(goro::Config::new().procs(1), || {
            let (a, b) = UnixStream::pair().unwrap();
            b.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            let reader = goro::spawn(move || {
                let mut got = Vec::new();
                let mut buf = [0u8; 64];
                while got.len() < 6 {
                    match b.read(&mut buf)? {
                        0 => break,
                        k => got.extend_from_slice(&buf[..k]),
                    }
                }
                Ok::<_, Error>(got)
            })
            .unwrap();
            // The reader runs and parks: nothing to read yet.
            goro::yield_now();
            // SAFETY: `a` owns this fd and outlives the borrow (the sends below).
            let fd = unsafe { rustix::fd::BorrowedFd::borrow_raw(a.as_raw_fd()) };
            let passed = std::fs::File::open("/dev/null").unwrap();
            let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
            let mut cmsg = SendAncillaryBuffer::new(&mut space);
            let fds = [std::os::fd::AsFd::as_fd(&passed)];
            assert!(cmsg.push(SendAncillaryMessage::ScmRights(&fds)));
            assert_eq!(sendmsg(fd, &[IoSlice::new(b"abc")], &mut cmsg, SendFlags::empty()), Ok(3));
            assert_eq!(rustix::net::send(fd, b"def", SendFlags::empty()), Ok(3));
            let got = reader.join().unwrap();
            drop(a);
            got
        })
        .unwrap();
    assert_eq!(got, Ok(b"abcdef".to_vec()));
}

/// `peek` on a Unix stream leaves the bytes for `read`.
#[test]
fn stream_peek_leaves_bytes_for_read() {
    goro::run(|| {
        let (a, b) = UnixStream::pair().unwrap();
        a.write_all(b"peek me").unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(b.peek(&mut buf).unwrap(), 7);
        assert_eq!(&buf[..7], b"peek me");
        assert_eq!(b.read(&mut buf).unwrap(), 7);
        assert_eq!(&buf[..7], b"peek me");
        a.shutdown(Shutdown::Write).unwrap();
        assert_eq!(b.peek(&mut buf).unwrap(), 0);
    })
    .unwrap();
}
