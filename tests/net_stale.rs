//! A closed socket's leftovers (a readiness event in flight, an armed
//! deadline timer, a goroutine woken by the close) must never reach the
//! socket that reuses its fd number and its poll descriptor.
//!
//! Every test here opens and closes fds only inside a runtime, and the
//! tests run one at a time ([`exclusive`]), so the kernel hands the lowest
//! free fd number to the next socket and the reuse is deterministic: the
//! tests assert it.

use goro::net::{TcpListener, TcpStream, UdpSocket};
use goro::Error;
use std::sync::Arc;
use std::time::Duration;

/// Runs `f` on a runtime while no other test of this file is anywhere in
/// `goro::run`. Runtimes already take turns, but `run` opens and closes fds
/// of its own before it waits for its turn (it reads the environment from
/// /proc/self/environ): a test thread entering `run` while another test's
/// runtime is in a round takes the lowest free fd for a moment, and the
/// round's socket gets another number (seen under load: "round 0: fd
/// number not reused", left 6, right 7).
fn exclusive(f: impl FnOnce() + Send + 'static) {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A test that failed while holding the lock poisons it; the next one
    // can still run.
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    goro::run(f).unwrap();
}

#[test]
fn a_new_socket_on_a_reused_fd_ignores_the_old_sockets_events_and_deadline() {
    exclusive(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        for round in 0..40 {
            let old = TcpStream::connect(addr).unwrap();
            let (server_side, _) = listener.accept().unwrap();
            // A readiness edge for `old` is now queued (or about to be)...
            server_side.write_all(b"for the old socket").unwrap();
            // ...and a deadline timer is armed to fire right away.
            old.set_read_deadline(Some(goro::time::Instant::now() + Duration::from_micros(200))).unwrap();
            if round % 2 == 1 {
                // Sometimes let the poller collect the event first.
                goro::yield_now();
            }
            let fd = old.as_raw_fd();
            old.close().unwrap();
            drop(old);

            // The next socket gets the same fd number (and, from goro's
            // LIFO arena, the same poll descriptor slot, one generation on).
            let new = UdpSocket::bind("127.0.0.1:0").unwrap();
            assert_eq!(new.as_raw_fd(), fd, "round {round}: fd number not reused");
            let to = new.local_addr().unwrap();
            let sender = goro::spawn(move || {
                // Past the old deadline: if its timer hit the new socket,
                // the recv below would fail with TimedOut.
                goro::sleep(Duration::from_millis(2));
                let s = UdpSocket::bind("127.0.0.1:0").unwrap();
                s.send_to(b"fresh", to).unwrap();
            })
            .unwrap();
            let mut buf = [0u8; 64];
            let (n, _) = new.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"fresh", "round {round}");
            sender.join().unwrap();
            drop(server_side);
        }
    });
}

#[test]
fn a_reader_woken_by_close_leaves_the_reused_fd_alone() {
    exclusive(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        for round in 0..20 {
            let old = Arc::new(TcpStream::connect(addr).unwrap());
            let (server_side, _) = listener.accept().unwrap();
            let o = old.clone();
            let reader = goro::spawn(move || o.read(&mut [0u8; 8])).unwrap();
            goro::sleep(Duration::from_millis(1)); // parked (or about to)
            let fd = old.as_raw_fd();
            old.close().unwrap();
            // The woken reader holds the last reference: the fd is closed
            // when it leaves.
            assert_eq!(reader.join().unwrap(), Err(Error::Closed));
            drop(old);

            let new = TcpStream::connect(addr).unwrap();
            assert_eq!(new.as_raw_fd(), fd, "round {round}: fd number not reused");
            let (srv, _) = listener.accept().unwrap();
            new.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
            // Nothing was sent to the new connection: no phantom data, no
            // stale Closed.
            assert_eq!(new.read(&mut [0u8; 8]), Err(Error::TimedOut), "round {round}");
            srv.write_all(b"ok").unwrap();
            new.set_read_timeout(None).unwrap();
            let mut b = [0u8; 8];
            assert_eq!(new.read(&mut b).unwrap(), 2);
            assert_eq!(&b[..2], b"ok");
            drop(server_side);
        }
    });
}
