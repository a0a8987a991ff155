//! The netpoller through `goro::poll::Fd` on pipes: parking on readiness,
//! deadlines, close while parked, stale descriptors.

use goro::poll::Fd;
use goro::Error;
use std::time::{Duration, Instant};

#[test]
fn reader_parks_until_the_writer_writes() {
    let got = goro::run(|| {
        let (r, w) = Fd::pipe().unwrap();
        let reader = goro::spawn(move || {
            let mut buf = [0u8; 64];
            let mut out = Vec::new();
            loop {
                match r.read(&mut buf).unwrap() {
                    0 => return out,
                    n => out.extend_from_slice(&buf[..n]),
                }
            }
        })
        .unwrap();
        for chunk in [&b"hello "[..], b"from ", b"a goroutine"] {
            goro::sleep(Duration::from_millis(2));
            w.write_all(chunk).unwrap();
        }
        drop(w); // EOF
        reader.join().unwrap()
    })
    .unwrap();
    assert_eq!(got, b"hello from a goroutine");
}

#[test]
fn read_deadline_times_out_and_is_sticky_until_reset() {
    let (first, second, after_reset) = goro::run(|| {
        let (r, w) = Fd::pipe().unwrap();
        let mut buf = [0u8; 8];
        // The clock starts before the deadline is computed: a timer that
        // fires right at the deadline has then always taken >= 20 ms.
        let t = Instant::now();
        r.set_read_deadline(Some(goro::time::Instant::now() + Duration::from_millis(20))).unwrap();
        let first = r.read(&mut buf).err();
        assert!(t.elapsed() >= Duration::from_millis(20), "timed out early: {:?}", t.elapsed());
        // Still expired: fails at once, even though data is now there.
        w.write_all(b"x").unwrap();
        let second = r.read(&mut buf).err();
        r.set_read_deadline(None).unwrap();
        let after_reset = r.read(&mut buf).unwrap();
        (first, second, after_reset)
    })
    .unwrap();
    assert_eq!(first, Some(Error::TimedOut));
    assert_eq!(second, Some(Error::TimedOut));
    assert_eq!(after_reset, 1);
}

#[test]
fn per_operation_timeout_rearms_for_each_read() {
    let r = goro::run(|| {
        let (r, w) = Fd::pipe().unwrap();
        r.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        let mut buf = [0u8; 8];
        let e1 = r.read(&mut buf).err();
        w.write_all(b"ab").unwrap();
        let ok = r.read(&mut buf).unwrap();
        let e2 = r.read(&mut buf).err();
        assert_eq!(
            r.set_read_timeout(Some(Duration::ZERO)).err().map(|e| matches!(e, Error::InvalidInput(_))),
            Some(true)
        );
        (e1, ok, e2)
    })
    .unwrap();
    assert_eq!(r, (Some(Error::TimedOut), 2, Some(Error::TimedOut)));
}

#[test]
fn close_wakes_a_parked_reader_with_closed() {
    let r = goro::run(|| {
        let (r, _w) = Fd::pipe().unwrap();
        let r = std::sync::Arc::new(r);
        let r2 = r.clone();
        let reader = goro::spawn(move || {
            let mut buf = [0u8; 8];
            r2.read(&mut buf)
        })
        .unwrap();
        goro::sleep(Duration::from_millis(5)); // let it park
        r.close().unwrap();
        let res = reader.join().unwrap();
        (res, r.close(), r.read(&mut [0u8; 4]))
    })
    .unwrap();
    assert_eq!(r, (Err(Error::Closed), Err(Error::Closed), Err(Error::Closed)));
}

#[test]
fn a_second_reader_waits_for_the_read_lock() {
    let mut got = goro::run(|| {
        let (r, w) = Fd::pipe().unwrap();
        let r = std::sync::Arc::new(r);
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let r = r.clone();
                goro::spawn(move || {
                    let mut b = [0u8; 1];
                    r.read(&mut b).unwrap();
                    b[0]
                })
                .unwrap()
            })
            .collect();
        goro::sleep(Duration::from_millis(5));
        w.write_all(b"a").unwrap();
        goro::sleep(Duration::from_millis(5));
        w.write_all(b"b").unwrap();
        hs.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>()
    })
    .unwrap();
    got.sort();
    assert_eq!(got, b"ab");
}

#[test]
fn io_outside_a_goroutine_that_would_block_is_an_error() {
    // The runtime's arenas exist only inside run(); make the fd there and
    // read from a host thread while the runtime runs.
    let r = goro::run(|| {
        let (r, _w) = Fd::pipe().unwrap();
        std::thread::spawn(move || r.read(&mut [0u8; 4])).join().unwrap()
    })
    .unwrap();
    assert_eq!(r, Err(Error::NotInGoroutine));
}

/// The status flags of `fd`, from `/proc/self/fdinfo` (octal there).
fn status_flags(fd: &impl std::os::fd::AsRawFd) -> u32 {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).unwrap();
    let line = info.lines().find_map(|l| l.strip_prefix("flags:")).unwrap();
    u32::from_str_radix(line.trim(), 8).unwrap()
}

const O_NONBLOCK: u32 = 0o4000;

#[test]
fn fd_new_rejects_a_regular_file_and_makes_a_blocking_pipe_non_blocking() {
    let (perm, left_blocking, got, timed_out) = goro::run(|| {
        // epoll cannot watch a regular file: EPERM, returned, not a crash,
        // and the open file (shared with `keep`) is left blocking as it was.
        let file = std::fs::File::open(std::env::current_exe().unwrap()).unwrap();
        let keep = file.try_clone().unwrap();
        let perm = Fd::new(file.into()).err();
        let left_blocking = status_flags(&keep) & O_NONBLOCK == 0;
        // A blocking pipe from std: Fd::new makes it non-blocking, so an
        // empty read parks (and times out) instead of blocking the thread.
        let (r, w) = std::io::pipe().unwrap();
        let (r, w) = (Fd::new(r.into()).unwrap(), Fd::new(w.into()).unwrap());
        r.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        let timed_out = r.read(&mut [0u8; 4]).err();
        w.write_all(b"abc").unwrap();
        let mut buf = [0u8; 4];
        let n = r.read(&mut buf).unwrap();
        (perm, left_blocking, buf[..n].to_vec(), timed_out)
    })
    .unwrap();
    assert_eq!(perm, Some(Error::Os(1)), "EPERM");
    assert!(left_blocking, "a failed Fd::new left O_NONBLOCK on the shared open file");
    assert_eq!(got, b"abc");
    assert_eq!(timed_out, Some(Error::TimedOut));
}

#[test]
fn an_fd_kept_past_its_runtime_is_closed_in_another_runtime() {
    // Another runtime's descriptor arena has a slot with the same index and
    // generation: the stale Fd must not act on (or close) that one.
    static A: goro::Runtime<8, 8> = goro::Runtime::new();
    static B: goro::Runtime<8, 8> = goro::Runtime::new();
    let (stale_r, stale_w) = A.run(goro::Config::new().procs(1), || Fd::pipe().unwrap()).unwrap();
    let got = B
        .run(goro::Config::new().procs(1), move || {
            let (r, w) = Fd::pipe().unwrap();
            let errs = (stale_r.write(b"x").err(), stale_w.close().err(), stale_r.close().err());
            w.write_all(b"ok").unwrap();
            let mut buf = [0u8; 2];
            let n = r.read(&mut buf).unwrap();
            (errs, buf[..n].to_vec())
        })
        .unwrap();
    assert_eq!(got.0, (Some(Error::Closed), Some(Error::Closed), Some(Error::Closed)));
    assert_eq!(got.1, b"ok", "this runtime's own pipe still works");
}

#[test]
fn a_timeout_never_extends_a_deadline_and_clearing_it_keeps_the_deadline() {
    let got = goro::run(|| {
        let (r, w) = Fd::pipe().unwrap();
        // Without the fix these reads waited forever; a byte written much
        // later turns that into a wrong result instead of a hang.
        goro::spawn(move || {
            goro::sleep(Duration::from_secs(10));
            let _ = w.write(b"late");
            w
        })
        .unwrap();
        let past = goro::time::Instant::now();
        // A deadline in the past, then a (huge) per-operation timeout: the
        // timeout does not replace the deadline.
        r.set_read_deadline(Some(past)).unwrap();
        r.set_read_timeout(Some(Duration::MAX)).unwrap();
        let with_timeout = r.read(&mut [0u8; 4]);
        // Clearing the timeout leaves the deadline in force.
        r.set_read_timeout(None).unwrap();
        let after_clear = r.read(&mut [0u8; 4]);
        // The same with the deadline set after the timeout.
        r.set_read_deadline(None).unwrap();
        r.set_read_timeout(Some(Duration::MAX)).unwrap();
        r.set_read_deadline(Some(past)).unwrap();
        let deadline_after = r.read(&mut [0u8; 4]);
        (with_timeout, after_clear, deadline_after)
    })
    .unwrap();
    assert_eq!(got, (Err(Error::TimedOut), Err(Error::TimedOut), Err(Error::TimedOut)));
}

/// A pipe whose writer turned on packet mode (`O_DIRECT`, settable with
/// `fcntl` at any time) returns one packet per read, short or not, with
/// more queued. The reader is parked when both packets arrive (one
/// coalesced edge, on one P); it must get the second without a further
/// event, not park until its timeout.
#[test]
fn a_packet_mode_pipe_delivers_every_packet_without_another_edge() {
    use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
    static RT: goro::Runtime = goro::Runtime::new();
    let got = RT
        .run(goro::Config::new().procs(1), || {
            let (r, w) = Fd::pipe().unwrap();
            r.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            // SAFETY: `w` owns this fd and outlives the borrow (two fcntl calls).
            let wfd = unsafe { rustix::fd::BorrowedFd::borrow_raw(w.as_raw_fd()) };
            fcntl_setfl(wfd, fcntl_getfl(wfd).unwrap() | OFlags::DIRECT).unwrap();
            let reader = goro::spawn(move || {
                let mut got = Vec::new();
                let mut buf = [0u8; 64];
                while got.len() < 6 {
                    match r.read(&mut buf)? {
                        0 => break,
                        k => got.extend_from_slice(&buf[..k]),
                    }
                }
                Ok::<_, Error>(got)
            })
            .unwrap();
            goro::yield_now(); // the reader runs and parks: nothing to read yet
            assert_eq!(w.write(b"abc"), Ok(3));
            assert_eq!(w.write(b"def"), Ok(3));
            reader.join().unwrap()
        })
        .unwrap();
    assert_eq!(got, Ok(b"abcdef".to_vec()));
}

/// `Config::poll_spin`: once a blocking poll has made two goroutines
/// runnable, the poller spins before its next blocking polls, unless the
/// spin is off; a spin longer than `MAX_POLL_SPIN` is a configuration error.
#[test]
fn the_poller_spins_after_a_batch_unless_the_spin_is_off() {
    // GORO_POLLSPIN overrides every configuration below (tests/mn.rs checks
    // the variable).
    assert!(std::env::var_os("GORO_POLLSPIN").is_none(), "run this test without GORO_POLLSPIN set");
    static RT: goro::Runtime<16, 16> = goro::Runtime::new();
    fn spins_with(config: goro::Config) -> u64 {
        RT.run(config.procs(1), || {
            let before = goro::stats().poll_spins;
            for _ in 0..5 {
                let (r1, w1) = Fd::pipe().unwrap();
                let (r2, w2) = Fd::pipe().unwrap();
                let readers: Vec<_> = [r1, r2]
                    .into_iter()
                    .map(|r| goro::spawn(move || r.read(&mut [0u8; 8]).unwrap()).unwrap())
                    .collect();
                // One P: both readers run, find their pipes empty and park.
                goro::yield_now();
                w1.write_all(b"x").unwrap();
                w2.write_all(b"y").unwrap();
                // Joining parks main: the one blocking poll finds both pipes
                // readable (a batch), and the blocking polls after it spin
                // first if spinning is on.
                for h in readers {
                    assert_eq!(h.join().unwrap(), 1);
                }
            }
            goro::stats().poll_spins - before
        })
        .unwrap()
    }
    assert_eq!(spins_with(goro::Config::new().poll_spin(Duration::ZERO)), 0);
    assert!(spins_with(goro::Config::new()) > 0);
    let too_long = goro::MAX_POLL_SPIN + Duration::from_nanos(1);
    let e = RT.run(goro::Config::new().poll_spin(too_long), || ()).unwrap_err();
    assert!(matches!(e, Error::InvalidConfig(_)), "{e:?}");
    assert!(e.to_string().contains("poll_spin"), "{e}");
}

#[test]
fn a_runtime_reused_after_abandoning_a_parked_reader_opens_fds() {
    // Run 1 ends with a goroutine parked reading a pipe (abandoned, its
    // index left in the descriptor's read semaphore); run 2 of the same
    // runtime gets that descriptor for a new pipe (this aborted with
    // "blocked goroutine on a free descriptor").
    static RT: goro::Runtime<16, 16> = goro::Runtime::new();
    let config = || goro::Config::new().procs(2);
    let (_w, parked) = RT
        .run(config(), || {
            let (r, w) = Fd::pipe().unwrap();
            let r = std::sync::Arc::new(r);
            let r2 = r.clone();
            let reader = goro::spawn(move || r2.read(&mut [0u8; 1])).unwrap();
            // The pipe is empty and its writer kept: the read parks.
            goro::sleep(Duration::from_millis(5));
            (w, !reader.is_finished())
        })
        .unwrap();
    assert!(parked);
    let got = RT
        .run(config(), || {
            let (r, w) = Fd::pipe().unwrap();
            w.write_all(b"ok").unwrap();
            let mut buf = [0u8; 2];
            let n = r.read(&mut buf).unwrap();
            buf[..n].to_vec()
        })
        .unwrap();
    assert_eq!(got, b"ok");
}
