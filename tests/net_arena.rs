//! Poll-descriptor arena exhaustion: a runtime with room for 8 open fds
//! says so (naming MAX_FDS) instead of failing obscurely, and recovers as
//! soon as sockets close.

use goro::net::{TcpListener, TcpStream, UdpSocket};
use goro::Error;

static SMALL: goro::Runtime<64, 8> = goro::Runtime::new();

fn is_fd_arena_full(e: &Error) -> bool {
    matches!(e, Error::ArenaFull { what, capacity: 8 } if what.contains("MAX_FDS"))
}

#[test]
fn opening_more_sockets_than_max_fds_is_arena_full_until_some_close() {
    SMALL
        .run(goro::Config::new(), || {
            let mut open = Vec::new();
            let err = loop {
                match UdpSocket::bind("127.0.0.1:0") {
                    Ok(s) => open.push(s),
                    Err(e) => break e,
                }
                assert!(open.len() <= 8, "more sockets than poll descriptors");
            };
            assert_eq!(open.len(), 8);
            assert!(is_fd_arena_full(&err), "{err:?}");
            assert!(err.to_string().contains("MAX_FDS"), "{err}");
            // Other kinds fail the same way.
            assert!(TcpListener::bind("127.0.0.1:0").is_err_and(|e| is_fd_arena_full(&e)));
            assert!(goro::net::UnixStream::pair().is_err_and(|e| is_fd_arena_full(&e)));
            // Closing frees descriptors for new sockets.
            open.truncate(5);
            for _ in 0..3 {
                open.push(UdpSocket::bind("127.0.0.1:0").unwrap());
            }
            assert!(UdpSocket::bind("127.0.0.1:0").is_err_and(|e| is_fd_arena_full(&e)));
            // close() without drop frees the descriptor too.
            open[0].close().unwrap();
            open.push(UdpSocket::bind("127.0.0.1:0").unwrap());
        })
        .unwrap();
}

#[test]
fn accept_with_the_arena_full_fails_and_the_listener_keeps_working() {
    SMALL
        .run(goro::Config::new(), || {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            let c1 = TcpStream::connect(addr).unwrap();
            let filler: Vec<_> = (0..6).map(|_| UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
            // 8 of 8 in use: the accepted connection has no descriptor.
            let e = l.accept().err().unwrap();
            assert!(is_fd_arena_full(&e), "{e:?}");
            // goro closed it: the client sees end of stream (or a reset).
            let mut b = [0u8; 1];
            assert!(matches!(c1.read(&mut b), Ok(0) | Err(Error::Os(104))));
            drop(c1);
            drop(filler);
            let c2 = TcpStream::connect(addr).unwrap();
            let (s2, _) = l.accept().unwrap();
            c2.write_all(b"hi").unwrap();
            let mut b = [0u8; 2];
            assert_eq!(s2.read(&mut b).unwrap(), 2);
            assert_eq!(&b, b"hi");
        })
        .unwrap();
}
