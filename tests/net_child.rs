//! Tests that need a process of their own: fd exhaustion (`EMFILE`) and
//! fd leak accounting. Each re-runs this test binary as a child with
//! `GORO_NET_CHILD=<case>` (other tests in a parent process open fds in
//! parallel threads, which would blur both); the parent checks the child's
//! exit status and its report line.

use goro::net::{Shutdown, TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream};
use goro::Error;
use std::ffi::OsString;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

const EMFILE: i32 = 24;

fn child_case() -> Option<String> {
    std::env::var("GORO_NET_CHILD").ok()
}

/// The command that starts this test binary: directly, or through
/// qemu-user when the binary is aarch64 and the host has no binfmt_misc
/// entry for it (exec then fails with ENOEXEC).
fn self_command() -> Vec<OsString> {
    let exe = std::env::current_exe().unwrap();
    if cfg!(target_arch = "aarch64") {
        if let Err(e) = Command::new(&exe).arg("--list").output() {
            if e.raw_os_error() == Some(8) {
                return vec!["qemu-aarch64-static".into(), exe.into()];
            }
        }
    }
    vec![exe.into()]
}

/// Runs test `test` in a child with `GORO_NET_CHILD=case`, under
/// `ulimit -n nofile` when given (through `sh`, which sets both limits, so
/// goro's start-up cannot raise the soft one again).
fn run_child(case: &str, test: &str, nofile: Option<u32>) -> Output {
    let mut argv = self_command();
    argv.extend([test, "--exact", "--nocapture", "--test-threads=1"].map(OsString::from));
    let mut cmd = match nofile {
        Some(n) => {
            let mut c = Command::new("sh");
            c.arg("-c").arg(format!("ulimit -n {n} && exec \"$@\"")).arg("sh").args(&argv);
            c
        }
        None => {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        }
    };
    let out = cmd.env("GORO_NET_CHILD", case).env("RUST_BACKTRACE", "0").output().unwrap();
    assert!(
        out.status.success(),
        "child {case} failed: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn echo_check(c: &TcpStream, s: &TcpStream, msg: &[u8]) {
    c.write_all(msg).unwrap();
    let mut buf = vec![0u8; msg.len()];
    let mut got = 0;
    while got < msg.len() {
        got += s.read(&mut buf[got..]).unwrap();
    }
    assert_eq!(buf, msg);
}

#[test]
fn accept_reports_emfile_and_the_listener_recovers_when_fds_free_up() {
    if child_case().as_deref() == Some("emfile") {
        let r = goro::run(|| {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            // Queued in the backlog before the fds run out.
            let c1 = TcpStream::connect(addr).unwrap();
            let mut hoard = Vec::new();
            loop {
                match std::fs::File::open("/dev/null") {
                    Ok(f) => hoard.push(f),
                    Err(e) if e.raw_os_error() == Some(EMFILE) => break,
                    Err(e) => panic!("open: {e}"),
                }
            }
            assert_eq!(l.accept().err(), Some(Error::Os(EMFILE)));
            assert_eq!(l.accept().err(), Some(Error::Os(EMFILE)), "still out of fds");
            assert_eq!(TcpStream::connect(addr).err(), Some(Error::Os(EMFILE)));
            let hoarded = hoard.len();
            drop(hoard);
            // The queued connection is still there, and new ones work.
            let (s1, _) = l.accept().unwrap();
            echo_check(&c1, &s1, b"queued while out of fds");
            let c2 = TcpStream::connect(addr).unwrap();
            let (s2, _) = l.accept().unwrap();
            echo_check(&c2, &s2, b"after recovery");
            hoarded
        })
        .unwrap();
        println!("EMFILE-OK after hoarding {r} fds");
        return;
    }
    let out = run_child("emfile", "accept_reports_emfile_and_the_listener_recovers_when_fds_free_up", Some(256));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("EMFILE-OK"), "{stdout}");
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// A workload touching every socket kind and every way a socket ends
/// (close, drop, close while parked, peer reset, refused, timed out,
/// failed accept), with everything joined before it returns.
fn workload() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = goro::spawn(move || {
        let mut hs = Vec::new();
        for _ in 0..50 {
            let (s, _) = l.accept().unwrap();
            hs.push(
                goro::spawn(move || {
                    let mut buf = [0u8; 1024];
                    while let Ok(n @ 1..) = s.read(&mut buf) {
                        if s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                })
                .unwrap(),
            );
        }
        for h in hs {
            h.join().unwrap();
        }
    })
    .unwrap();
    let clients: Vec<_> = (0..50)
        .map(|i| {
            goro::spawn(move || {
                let c = TcpStream::connect(addr).unwrap();
                c.write_all(b"leak check").unwrap();
                let mut b = [0u8; 10];
                let mut got = 0;
                while got < 10 {
                    got += c.read(&mut b[got..]).unwrap();
                }
                match i % 3 {
                    0 => c.shutdown(Shutdown::Write).unwrap(),
                    1 => c.set_linger(Some(Duration::ZERO)).unwrap(), // reset on drop
                    _ => c.close().unwrap(),
                }
            })
            .unwrap()
        })
        .collect();
    for h in clients {
        h.join().unwrap();
    }
    server.join().unwrap();

    // Refused connect; closed-while-parked read.
    let gone = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    assert!(TcpStream::connect(gone).is_err());
    let (a, _b) = UnixStream::pair().unwrap();
    let a = Arc::new(a);
    let a2 = a.clone();
    let reader = goro::spawn(move || a2.read(&mut [0u8; 4])).unwrap();
    goro::sleep(Duration::from_millis(2));
    a.close().unwrap();
    assert_eq!(reader.join().unwrap(), Err(Error::Closed));

    // Timed-out connect to a full backlog.
    let full = TcpListener::bind_with_backlog("127.0.0.1:0", 0).unwrap();
    let mut queued = Vec::new();
    for _ in 0..16 {
        match TcpStream::connect_timeout(full.local_addr().unwrap(), Duration::from_millis(50)) {
            Ok(s) => queued.push(s),
            Err(_) => break,
        }
    }

    // UDP, Unix datagrams, a path listener.
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    u.send_to(b"x", u.local_addr().unwrap()).unwrap();
    u.recv_from(&mut [0u8; 4]).unwrap();
    let (d1, d2) = UnixDatagram::pair().unwrap();
    d1.send(b"y").unwrap();
    d2.recv(&mut [0u8; 4]).unwrap();
    let path = std::env::temp_dir().join(format!("goro-leak-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let ul = UnixListener::bind(path.to_str().unwrap()).unwrap();
    let uc = UnixStream::connect(path.to_str().unwrap()).unwrap();
    let (us, _) = ul.accept().unwrap();
    drop((uc, us, ul));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn no_fd_is_leaked_once_every_socket_is_closed() {
    if child_case().as_deref() == Some("leak") {
        // The first run creates goro's epoll fd and eventfd, which live as
        // long as the process; count after it.
        goro::run(|| ()).unwrap();
        let before = open_fds();
        goro::run(workload).unwrap();
        let after = open_fds();
        println!("FDS before={before} after={after}");
        assert_eq!(before, after, "fds leaked");
        return;
    }
    let out = run_child("leak", "no_fd_is_leaked_once_every_socket_is_closed", None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FDS before="), "{stdout}");
}

/// The child: sockets that outlive the run that made them (returned from
/// it) are closed for use (`Closed`), even while a later run reuses their
/// descriptor slots, and dropping them closes their fds.
fn outlived() {
    goro::run(|| ()).unwrap();
    let before = open_fds();
    let (l, u) =
        goro::run(|| (TcpListener::bind("127.0.0.1:0").unwrap(), UdpSocket::bind("127.0.0.1:0").unwrap())).unwrap();
    let (r, w) = goro::run(goro::poll::Fd::pipe).unwrap().unwrap();
    assert_eq!(open_fds(), before + 4, "the escaped sockets and pipe are still open");
    // A later run, whose sockets take the same descriptor slots.
    let stale = goro::run(move || {
        let _fresh = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut buf = [0u8; 4];
        (l.accept().err(), u.recv_from(&mut buf).err(), r.read(&mut buf).err(), w.write(b"x").err(), l, u, r, w)
    })
    .unwrap();
    assert_eq!(stale.0.map(|e| e.to_string()), Some(Error::Closed.to_string()));
    assert_eq!(stale.1, Some(Error::Closed));
    assert_eq!(stale.2, Some(Error::Closed));
    assert_eq!(stale.3, Some(Error::Closed));
    drop(stale);
    let after = open_fds();
    println!("REPORT outlived before={before} after={after}");
    assert_eq!(before, after, "dropping sockets that outlived their run closes their fds");
}

/// In the child for `case`, runs `body`; in the parent, starts that child
/// (running test `test`) and checks that it printed `report`.
fn child_test(case: &str, test: &str, body: fn(), report: &str) {
    match child_case().as_deref() {
        Some(c) if c == case => body(),
        Some(_) => {} // the child of another test
        None => {
            let out = run_child(case, test, None);
            assert!(String::from_utf8_lossy(&out.stdout).contains(report));
        }
    }
}

#[test]
fn sockets_that_outlive_their_run_are_closed_when_dropped() {
    child_test("outlived", "sockets_that_outlive_their_run_are_closed_when_dropped", outlived, "REPORT outlived");
}

/// The child: sockets and `Fd`s made before the process's first `goro::run`
/// (no poller exists yet) are an error, not an abort; a run afterwards works.
fn before_any_run() {
    assert_eq!(TcpListener::bind("127.0.0.1:0").err(), Some(Error::NotInGoroutine));
    assert_eq!(UdpSocket::bind("127.0.0.1:0").err(), Some(Error::NotInGoroutine));
    assert_eq!(UnixStream::pair().err(), Some(Error::NotInGoroutine));
    assert_eq!(goro::poll::Fd::pipe().err(), Some(Error::NotInGoroutine));
    let (r, _w) = std::io::pipe().unwrap();
    assert_eq!(goro::poll::Fd::new(r.into()).err(), Some(Error::NotInGoroutine));
    let ok = goro::run(|| TcpListener::bind("127.0.0.1:0").is_ok()).unwrap();
    assert!(ok);
    println!("REPORT before_any_run ok");
}

#[test]
fn sockets_before_the_first_run_are_not_in_goroutine() {
    child_test(
        "before_any_run",
        "sockets_before_the_first_run_are_not_in_goroutine",
        before_any_run,
        "REPORT before_any_run ok",
    );
}
