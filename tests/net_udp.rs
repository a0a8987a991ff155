//! `goro::net::UdpSocket` on 127.0.0.1 and ::1.

use goro::net::UdpSocket;
use goro::Error;
use std::sync::Arc;
use std::time::Duration;

#[test]
fn send_to_and_recv_from_carry_datagrams_and_senders() {
    goro::run(|| {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (aa, ba) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        // The receiver parks first; the datagram wakes it.
        let b = Arc::new(b);
        let b2 = b.clone();
        let rx = goro::spawn(move || {
            let mut buf = [0u8; 64];
            let (n, from) = b2.recv_from(&mut buf).unwrap();
            (buf[..n].to_vec(), from)
        })
        .unwrap();
        goro::sleep(Duration::from_millis(2));
        assert_eq!(a.send_to(b"hello", ba).unwrap(), 5);
        assert_eq!(rx.join().unwrap(), (b"hello".to_vec(), aa));
        // Empty datagrams exist.
        a.send_to(b"", ba).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(b.recv_from(&mut buf).unwrap(), (0, aa));
    })
    .unwrap();
}

#[test]
fn each_receive_is_one_datagram_short_reads_included() {
    goro::run(|| {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let ba = b.local_addr().unwrap();
        for m in [&b"one"[..], b"two", b"three"] {
            a.send_to(m, ba).unwrap();
        }
        a.send_to(&[9u8; 100], ba).unwrap();
        a.send_to(b"last", ba).unwrap();
        // A timeout turns a wrong "drained" guess into a failure, not a hang.
        b.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 64];
        for want in [&b"one"[..], b"two", b"three"] {
            let (n, _) = b.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], want);
        }
        // A datagram longer than the buffer is truncated, the rest dropped.
        let mut small = [0u8; 10];
        assert_eq!(b.recv_from(&mut small).unwrap().0, 10);
        assert_eq!(b.recv_from(&mut buf).unwrap().0, 4);
        assert_eq!(&buf[..4], b"last");
        b.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
        assert_eq!(b.recv_from(&mut buf).err(), Some(Error::TimedOut));
    })
    .unwrap();
}

#[test]
fn connected_sockets_send_recv_and_peek() {
    goro::run(|| {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        a.connect(b.local_addr().unwrap()).unwrap();
        b.connect(a.local_addr().unwrap()).unwrap();
        assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
        a.send(b"ping").unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(b.peek(&mut buf).unwrap(), 4);
        assert_eq!(b.peek_from(&mut buf).unwrap(), (4, a.local_addr().unwrap()));
        assert_eq!(b.recv(&mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"ping");
        b.send(b"pong").unwrap();
        assert_eq!(a.recv(&mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"pong");
        // Unconnected: no peer.
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(c.peer_addr().err(), Some(Error::Os(107))); // ENOTCONN
        c.set_broadcast(true).unwrap();
        assert!(c.broadcast().unwrap());
        c.set_ttl(7).unwrap();
        assert_eq!(c.ttl().unwrap(), 7);
    })
    .unwrap();
}

#[test]
fn ipv6_loopback_datagrams() {
    let r = goro::run(|| {
        let a = UdpSocket::bind("[::1]:0")?;
        let b = UdpSocket::bind("[::1]:0")?;
        let ba = b.local_addr().unwrap();
        assert!(ba.is_ipv6());
        a.send_to(b"v6", ba).unwrap();
        let mut buf = [0u8; 8];
        let (n, from) = b.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"v6"[..], a.local_addr().unwrap()));
        Ok::<_, Error>(())
    })
    .unwrap();
    if let Err(e) = r {
        eprintln!("skipped: no IPv6 loopback ({e})");
    }
}

#[test]
fn recv_deadline_and_close_wake_a_parked_receiver() {
    let (timed, closed) = goro::run(|| {
        let a = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        let a2 = a.clone();
        let rx = goro::spawn(move || a2.recv_from(&mut [0u8; 8]).map(|_| ())).unwrap();
        goro::sleep(Duration::from_millis(2));
        a.set_read_deadline(Some(goro::time::Instant::now())).unwrap();
        let timed = rx.join().unwrap();
        a.set_read_deadline(None).unwrap();
        let a2 = a.clone();
        let rx = goro::spawn(move || a2.recv(&mut [0u8; 8])).unwrap();
        goro::sleep(Duration::from_millis(2));
        a.close().unwrap();
        (timed, rx.join().unwrap())
    })
    .unwrap();
    assert_eq!(timed, Err(Error::TimedOut));
    assert_eq!(closed, Err(Error::Closed));
}
