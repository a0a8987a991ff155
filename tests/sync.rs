//! `goro::sync`: channels, select, Mutex, RwLock, WaitGroup, Once,
//! Semaphore, under the M:N scheduler with two Ps (this machine has two
//! cores) and from host threads. No assertion depends on timing: timeouts
//! are only ever checked for what they return, and the few wall-clock
//! bounds only turn a hang into a failure.

use goro::sync::{Channel, Mutex, Once, RwLock, Select, Semaphore, SendError, TryRecvError, TrySendError, WaitGroup};
use goro::Error;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn run2<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    static RT: goro::Runtime<20_000, 64> = goro::Runtime::new();
    RT.run(goro::Config::new().procs(2).stack_size(64 * 1024), f).unwrap()
}

fn join_all<T>(hs: Vec<goro::JoinHandle<T>>) -> Vec<T> {
    hs.into_iter().map(|h| h.join().unwrap()).collect()
}

/// Spins (yielding) until `cond`, failing after a generous wall-clock bound.
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        goro::yield_now();
        if goro::goroutine_id().is_none() {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
}

// ------------------------------------------------------------- channels

#[test]
fn unbuffered_ping_pong() {
    static PING: Channel<u64, 0> = Channel::new();
    static PONG: Channel<u64, 0> = Channel::new();
    let sum = run2(|| {
        let echo = goro::spawn(|| {
            for v in PING.receiver() {
                PONG.send(v + 1).unwrap();
            }
        })
        .unwrap();
        let mut sum = 0;
        for i in 0..10_000u64 {
            PING.send(i).unwrap();
            let r = PONG.recv().unwrap();
            assert_eq!(r, i + 1);
            sum += r;
        }
        PING.close();
        echo.join().unwrap();
        sum
    });
    assert_eq!(sum, (1..=10_000).sum::<u64>());
}

#[test]
fn buffered_ping_pong_and_fifo_order() {
    static CH: Channel<u32, 4> = Channel::new();
    static BACK: Channel<u32, 1> = Channel::new();
    run2(|| {
        for i in 0..4 {
            CH.send(i).unwrap();
        }
        assert_eq!(CH.len(), 4);
        assert_eq!(CH.try_send(9).unwrap_err(), TrySendError::Full(9));
        for i in 0..4 {
            assert_eq!(CH.recv().unwrap(), i);
        }
        let echo = goro::spawn(|| {
            while let Ok(v) = CH.recv() {
                BACK.send(v * 2).unwrap();
            }
        })
        .unwrap();
        for i in 0..5_000 {
            CH.send(i).unwrap();
            assert_eq!(BACK.recv().unwrap(), i * 2);
        }
        CH.close();
        echo.join().unwrap();
    });
}

/// Producers send disjoint ranges, consumers record what they get: every
/// value must arrive exactly once.
fn every_value_exactly_once<const N: usize>(ch: &'static Channel<u32, N>, wg: &'static WaitGroup) {
    const PRODUCERS: u32 = 8;
    const CONSUMERS: usize = 8;
    const PER: u32 = 2_000;
    let seen = run2(move || {
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                wg.add(1);
                goro::spawn(move || {
                    for i in 0..PER {
                        ch.send(p * PER + i).unwrap();
                    }
                    wg.done();
                })
                .unwrap()
            })
            .collect();
        let consumers: Vec<_> =
            (0..CONSUMERS).map(|_| goro::spawn(move || ch.receiver().iter().collect::<Vec<_>>()).unwrap()).collect();
        wg.wait();
        assert!(ch.close());
        join_all(producers);
        join_all(consumers)
    });
    let mut all: Vec<u32> = seen.into_iter().flatten().collect();
    all.sort_unstable();
    assert_eq!(all.len(), (PRODUCERS * PER) as usize, "values lost or duplicated");
    assert!(all.iter().enumerate().all(|(i, &v)| v == i as u32), "values lost or duplicated");
}

#[test]
fn many_producers_and_consumers_unbuffered() {
    static CH: Channel<u32, 0> = Channel::new();
    static WG: WaitGroup = WaitGroup::new();
    every_value_exactly_once(&CH, &WG);
}

#[test]
fn many_producers_and_consumers_buffered() {
    static CH: Channel<u32, 16> = Channel::new();
    static WG: WaitGroup = WaitGroup::new();
    every_value_exactly_once(&CH, &WG);
}

#[test]
fn close_lets_receivers_drain_then_fails_sends() {
    static CH: Channel<String, 4> = Channel::new();
    run2(|| {
        CH.send("a".into()).unwrap();
        CH.send("b".into()).unwrap();
        assert!(CH.close());
        assert!(!CH.close(), "closing twice is reported, not a crash");
        assert!(CH.is_closed());
        let SendError(v) = CH.send("c".into()).unwrap_err();
        assert_eq!(v, "c", "a failed send gives the value back");
        assert!(matches!(CH.try_send("d".into()), Err(TrySendError::Closed(v)) if v == "d"));
        assert_eq!(CH.recv().unwrap(), "a");
        assert_eq!(CH.try_recv().unwrap(), "b");
        assert_eq!(CH.recv(), Err(Error::Closed));
        assert_eq!(CH.try_recv(), Err(TryRecvError::Closed));
        assert_eq!(CH.recv_timeout(Duration::from_secs(5)), Err(Error::Closed));
    });
}

#[test]
fn close_wakes_parked_receivers_and_senders() {
    static RX: Channel<u32, 0> = Channel::new();
    static TX: Channel<u32, 1> = Channel::new();
    static PARKED: AtomicUsize = AtomicUsize::new(0);
    run2(|| {
        let receivers: Vec<_> = (0..4)
            .map(|_| {
                goro::spawn(|| {
                    PARKED.fetch_add(1, Ordering::SeqCst);
                    RX.recv()
                })
                .unwrap()
            })
            .collect();
        TX.send(0).unwrap();
        let senders: Vec<_> = (1..=4)
            .map(|i| {
                goro::spawn(move || {
                    PARKED.fetch_add(1, Ordering::SeqCst);
                    TX.send(i).map_err(|e| e.into_inner())
                })
                .unwrap()
            })
            .collect();
        wait_until("all to start", || PARKED.load(Ordering::SeqCst) == 8);
        // Let them reach their park (they may also find the channels closed
        // directly; both paths must give the same answers).
        for _ in 0..10 {
            goro::yield_now();
        }
        RX.close();
        TX.close();
        for r in join_all(receivers) {
            assert_eq!(r, Err(Error::Closed));
        }
        let mut back: Vec<u32> = join_all(senders).into_iter().map(|r| r.unwrap_err()).collect();
        back.sort_unstable();
        assert_eq!(back, [1, 2, 3, 4], "closed senders get their values back");
        assert_eq!(TX.recv(), Ok(0), "the buffered value is still delivered");
        assert_eq!(TX.recv(), Err(Error::Closed));
    });
}

#[test]
fn try_send_and_try_recv() {
    static U: Channel<u32, 0> = Channel::new();
    static B: Channel<u32, 2> = Channel::new();
    static STARTED: AtomicBool = AtomicBool::new(false);
    run2(|| {
        assert_eq!(U.try_send(1), Err(TrySendError::Full(1)), "no receiver waiting");
        assert_eq!(U.try_recv(), Err(TryRecvError::Empty));
        let r = goro::spawn(|| {
            STARTED.store(true, Ordering::SeqCst);
            U.recv().unwrap()
        })
        .unwrap();
        wait_until("receiver to start", || STARTED.load(Ordering::SeqCst));
        // The receiver parks at some point: keep trying until it takes it.
        let mut v = 7;
        let t = Instant::now();
        loop {
            match U.try_send(v) {
                Ok(()) => break,
                Err(TrySendError::Full(back)) => v = back,
                Err(e) => panic!("{e:?}"),
            }
            assert!(t.elapsed() < Duration::from_secs(60), "the receiver never parked on the channel");
            goro::yield_now();
        }
        assert_eq!(r.join().unwrap(), 7);
        B.try_send(1).unwrap();
        B.try_send(2).unwrap();
        assert_eq!(B.try_send(3), Err(TrySendError::Full(3)));
        assert_eq!(B.try_recv(), Ok(1));
        assert_eq!(B.try_recv(), Ok(2));
        assert_eq!(B.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn send_and_recv_timeouts() {
    static U: Channel<u32, 0> = Channel::new();
    static B: Channel<u32, 1> = Channel::new();
    run2(|| {
        assert_eq!(U.recv_timeout(Duration::from_millis(5)), Err(Error::TimedOut));
        assert_eq!(U.recv_timeout(Duration::ZERO), Err(Error::TimedOut));
        let e = U.send_timeout(3, Duration::from_millis(5)).unwrap_err();
        assert!(matches!(e, goro::sync::SendTimeoutError::TimedOut(3)));
        assert_eq!(Error::from(e), Error::TimedOut);
        B.send(1).unwrap();
        assert!(matches!(B.send_timeout(2, Duration::from_millis(5)), Err(goro::sync::SendTimeoutError::TimedOut(2))));
        assert_eq!(B.recv_timeout(Duration::from_millis(5)), Ok(1));
        // A value that arrives before the deadline is received.
        let s = goro::spawn(|| {
            goro::sleep(Duration::from_millis(2));
            U.send(42)
        })
        .unwrap();
        assert_eq!(U.recv_timeout(Duration::from_secs(30)), Ok(42));
        s.join().unwrap().unwrap();
        // Nothing is left armed: later waits and sleeps are unaffected.
        goro::sleep(Duration::from_millis(1));
        assert_eq!(U.try_recv(), Err(TryRecvError::Empty));
    });
}

/// Senders and receivers on one unbuffered channel all use very short
/// timeouts, so timeouts constantly race hand-offs. Every value must end
/// up exactly once either received or handed back to its sender.
#[test]
fn timeouts_racing_handoffs_never_lose_or_duplicate_values() {
    static CH: Channel<u32, 0> = Channel::new();
    static DONE: AtomicBool = AtomicBool::new(false);
    const SENDERS: u32 = 4;
    const PER: u32 = 3_000;
    let (received, returned) = run2(|| {
        let senders: Vec<_> = (0..SENDERS)
            .map(|s| {
                goro::spawn(move || {
                    let mut back = Vec::new();
                    for i in 0..PER {
                        let t = Duration::from_micros(u64::from(i % 50));
                        if let Err(e) = CH.send_timeout(s * PER + i, t) {
                            back.push(e.into_inner());
                        }
                    }
                    back
                })
                .unwrap()
            })
            .collect();
        let receivers: Vec<_> = (0..4u64)
            .map(|r| {
                goro::spawn(move || {
                    let mut got = Vec::new();
                    let mut k = r;
                    while !DONE.load(Ordering::SeqCst) {
                        k += 1;
                        let t = Duration::from_micros(k % 40);
                        match CH.recv_timeout(t) {
                            Ok(v) => got.push(v),
                            Err(Error::TimedOut) => {}
                            Err(e) => panic!("{e:?}"),
                        }
                    }
                    got
                })
                .unwrap()
            })
            .collect();
        let returned: Vec<u32> = join_all(senders).into_iter().flatten().collect();
        DONE.store(true, Ordering::SeqCst);
        let received: Vec<u32> = join_all(receivers).into_iter().flatten().collect();
        (received, returned)
    });
    let mut all: Vec<u32> = received.iter().chain(returned.iter()).copied().collect();
    all.sort_unstable();
    assert_eq!(all.len(), (SENDERS * PER) as usize, "{} received + {} returned", received.len(), returned.len());
    assert!(all.iter().enumerate().all(|(i, &v)| v == i as u32), "a value was lost or duplicated");
}

#[test]
fn channel_in_an_arc_drops_buffered_values() {
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    run2(move || {
        let ch = Arc::new(Channel::<Counted, 8>::new());
        let c2 = ch.clone();
        goro::spawn(move || {
            for _ in 0..5 {
                c2.send(Counted(d.clone())).unwrap();
            }
        })
        .unwrap()
        .join()
        .unwrap();
        drop(ch.recv().unwrap());
        assert_eq!(ch.len(), 4);
    });
    assert_eq!(drops.load(Ordering::SeqCst), 5, "the received value and the 4 still buffered are dropped");
}

// --------------------------------------------------------------- select

#[test]
fn select_is_fair_between_ready_cases() {
    static A: Channel<u32, 1> = Channel::new();
    static B: Channel<u32, 1> = Channel::new();
    let (a, b) = run2(|| {
        let (mut a, mut b) = (0u32, 0u32);
        for _ in 0..10_000 {
            let _ = A.try_send(1);
            let _ = B.try_send(2);
            let v = Select::new().recv(&A, |r| r.unwrap()).recv(&B, |r| r.unwrap()).wait();
            if v == 1 {
                a += 1;
            } else {
                b += 1;
            }
        }
        (a, b)
    });
    assert_eq!(a + b, 10_000);
    assert!((3_000..=7_000).contains(&a), "case A chosen {a} times out of 10000 (B {b})");
}

#[test]
fn select_default_and_timeout() {
    static A: Channel<u32, 0> = Channel::new();
    static B: Channel<u32, 1> = Channel::new();
    #[derive(Debug, PartialEq)]
    enum Ev {
        A(u32),
        B(u32),
        Default,
        Timeout,
    }
    run2(|| {
        let ev = Select::new()
            .recv(&A, |r| Ev::A(r.unwrap()))
            .recv(&B, |r| Ev::B(r.unwrap()))
            .default(|| Ev::Default)
            .wait();
        assert_eq!(ev, Ev::Default);
        B.send(5).unwrap();
        let ev = Select::new()
            .recv(&A, |r| Ev::A(r.unwrap()))
            .recv(&B, |r| Ev::B(r.unwrap()))
            .default(|| Ev::Default)
            .wait();
        assert_eq!(ev, Ev::B(5));
        let ev = Select::new()
            .recv(&A, |r| Ev::A(r.unwrap()))
            .recv(&B, |r| Ev::B(r.unwrap()))
            .timeout(Duration::from_millis(3), || Ev::Timeout)
            .wait();
        assert_eq!(ev, Ev::Timeout);
        // A timeout with nothing else: a sleep.
        assert_eq!(Select::new().timeout(Duration::from_millis(1), || Ev::Timeout).wait(), Ev::Timeout);
        // A sender arriving before the deadline wins.
        let s = goro::spawn(|| {
            goro::sleep(Duration::from_millis(2));
            A.send(9).unwrap();
        })
        .unwrap();
        let ev = Select::new()
            .recv(&A, |r| Ev::A(r.unwrap()))
            .recv(&B, |r| Ev::B(r.unwrap()))
            .timeout(Duration::from_secs(30), || Ev::Timeout)
            .wait();
        assert_eq!(ev, Ev::A(9));
        s.join().unwrap();
    });
}

#[test]
fn select_on_closed_channels() {
    static A: Channel<u32, 0> = Channel::new();
    static B: Channel<u32, 0> = Channel::new();
    run2(|| {
        A.close();
        let r = Select::new().recv(&A, |r| r).wait();
        assert_eq!(r, Err(Error::Closed));
        B.close();
        let r = Select::new().send(&B, 3u32, |r| r.map_err(SendError::into_inner)).wait();
        assert_eq!(r, Err(3), "a send case on a closed channel gives the value back");
    });
}

/// Goroutines that each select between sending on one channel and
/// receiving on another, against plain senders and receivers: every value
/// sent is received exactly once.
#[test]
fn select_mixing_sends_and_receives() {
    static IN: Channel<u32, 0> = Channel::new();
    static OUT: Channel<u32, 0> = Channel::new();
    static QUIT: Channel<(), 0> = Channel::new();
    const N: u32 = 4_000;
    let (forwarded, got) = run2(|| {
        // Relays: select between a value from IN and quitting, then
        // between forwarding it on OUT and quitting.
        let relays: Vec<_> = (0..4)
            .map(|_| {
                goro::spawn(|| {
                    let mut n = 0u32;
                    loop {
                        let Some(v) = Select::new().recv(&IN, |r| r.ok()).recv(&QUIT, |_| None).wait() else {
                            return n;
                        };
                        let sent = Select::new().send(&OUT, v, |r| r.is_ok()).recv(&QUIT, |_| false).wait();
                        assert!(sent, "quit arrives only after every value was forwarded");
                        n += 1;
                    }
                })
                .unwrap()
            })
            .collect();
        let consumer = goro::spawn(|| (0..N).map(|_| OUT.recv().unwrap()).collect::<Vec<_>>()).unwrap();
        for i in 0..N {
            IN.send(i).unwrap();
        }
        let got = consumer.join().unwrap();
        QUIT.close();
        (join_all(relays).into_iter().sum::<u32>(), got)
    });
    assert_eq!(forwarded, N);
    let mut got = got;
    got.sort_unstable();
    assert!(got.iter().enumerate().all(|(i, &v)| v == i as u32) && got.len() == N as usize);
}

/// Many goroutines select over two channels with short timeouts while
/// producers send: each goroutine is woken exactly once per select, so
/// every value is received once.
#[test]
fn select_with_timeouts_under_contention() {
    static A: Channel<u32, 0> = Channel::new();
    static B: Channel<u32, 2> = Channel::new();
    static DONE: AtomicBool = AtomicBool::new(false);
    const PER: u32 = 3_000;
    let got = run2(|| {
        let producers: Vec<_> = [A.sender(), B.sender()]
            .into_iter()
            .enumerate()
            .map(|(k, ch)| {
                goro::spawn(move || {
                    for i in 0..PER {
                        ch.send(k as u32 * PER + i).unwrap();
                    }
                })
                .unwrap()
            })
            .collect();
        let consumers: Vec<_> = (0..6u64)
            .map(|c| {
                goro::spawn(move || {
                    let mut got = Vec::new();
                    let mut k = c;
                    while !DONE.load(Ordering::SeqCst) || !B.is_empty() {
                        k += 1;
                        let t = Duration::from_micros(k % 30);
                        if let Some(v) =
                            Select::new().recv(&A, |r| r.ok()).recv(&B, |r| r.ok()).timeout(t, || None).wait()
                        {
                            got.push(v);
                        }
                    }
                    got
                })
                .unwrap()
            })
            .collect();
        join_all(producers);
        DONE.store(true, Ordering::SeqCst);
        join_all(consumers).into_iter().flatten().collect::<Vec<u32>>()
    });
    let mut got = got;
    got.sort_unstable();
    assert_eq!(got.len(), 2 * PER as usize, "values lost or duplicated");
    assert!(got.iter().enumerate().all(|(i, &v)| v == i as u32), "values lost or duplicated");
}

// ----------------------------------------------------------------- locks

#[test]
fn mutex_excludes_under_two_ps() {
    static M: Mutex<u64> = Mutex::new(0);
    static INSIDE: AtomicUsize = AtomicUsize::new(0);
    const G: u64 = 8;
    const PER: u64 = 5_000;
    let total = run2(|| {
        let hs: Vec<_> = (0..G)
            .map(|_| {
                goro::spawn(|| {
                    for i in 0..PER {
                        let mut g = M.lock();
                        assert_eq!(INSIDE.fetch_add(1, Ordering::SeqCst), 0, "two holders at once");
                        let v = *g;
                        if i % 64 == 0 {
                            goro::yield_now(); // make others queue up and park
                        }
                        *g = v + 1;
                        INSIDE.fetch_sub(1, Ordering::SeqCst);
                    }
                })
                .unwrap()
            })
            .collect();
        join_all(hs);
        *M.lock()
    });
    assert_eq!(total, G * PER);
    assert!(M.try_lock().is_some());
}

#[test]
fn rwlock_readers_share_writers_exclude() {
    static L: RwLock<u64> = RwLock::new(0);
    static READERS: AtomicUsize = AtomicUsize::new(0);
    static WRITERS: AtomicUsize = AtomicUsize::new(0);
    const R: usize = 4;
    run2(|| {
        // All R readers must be inside at the same time (an exclusive lock
        // would never get there).
        let hs: Vec<_> = (0..R)
            .map(|_| {
                goro::spawn(|| {
                    let g = L.read();
                    READERS.fetch_add(1, Ordering::SeqCst);
                    wait_until("all readers inside together", || READERS.load(Ordering::SeqCst) >= R);
                    let v = *g;
                    drop(g);
                    v
                })
                .unwrap()
            })
            .collect();
        join_all(hs);
        READERS.store(0, Ordering::SeqCst);
        // Writers and readers mixed: a writer is always alone.
        let hs: Vec<_> = (0..8)
            .map(|k| {
                goro::spawn(move || {
                    for i in 0..2_000u64 {
                        if (i + k) % 4 == 0 {
                            let mut g = L.write();
                            assert_eq!(WRITERS.fetch_add(1, Ordering::SeqCst), 0, "two writers");
                            assert_eq!(READERS.load(Ordering::SeqCst), 0, "a reader next to a writer");
                            *g += 1;
                            if i % 16 == 0 {
                                goro::yield_now();
                            }
                            WRITERS.fetch_sub(1, Ordering::SeqCst);
                        } else {
                            let g = L.read();
                            READERS.fetch_add(1, Ordering::SeqCst);
                            assert_eq!(WRITERS.load(Ordering::SeqCst), 0, "a writer next to a reader");
                            let _ = *g;
                            if i % 16 == 1 {
                                goro::yield_now();
                            }
                            READERS.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                })
                .unwrap()
            })
            .collect();
        join_all(hs);
        assert_eq!(*L.read(), 8 * 2_000 / 4);
    });
}

#[test]
fn waitgroup_with_ten_thousand_goroutines() {
    static GATE: WaitGroup = WaitGroup::new();
    static WG: WaitGroup = WaitGroup::new();
    static DONE: AtomicUsize = AtomicUsize::new(0);
    const N: usize = 10_000;
    let done = run2(|| {
        GATE.add(1);
        for _ in 0..N {
            WG.add(1);
            // Detached: each parks on GATE, then counts itself done.
            drop(
                goro::spawn(|| {
                    GATE.wait();
                    DONE.fetch_add(1, Ordering::SeqCst);
                    WG.done();
                })
                .unwrap(),
            );
        }
        assert_eq!(WG.count(), N);
        GATE.done(); // wakes up to 10,000 parked waiters at once
        WG.wait();
        assert_eq!(WG.count(), 0);
        DONE.load(Ordering::SeqCst)
    });
    assert_eq!(done, N);
}

#[test]
#[should_panic(expected = "done called more often than add")]
fn waitgroup_negative_counter_panics() {
    WaitGroup::new().done();
}

#[test]
fn once_runs_exactly_once_under_contention() {
    static ONCE: Once = Once::new();
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    static VALUE: AtomicU64 = AtomicU64::new(0);
    let seen = run2(|| {
        let hs: Vec<_> = (0..200)
            .map(|_| {
                goro::spawn(|| {
                    ONCE.call_once(|| {
                        RUNS.fetch_add(1, Ordering::SeqCst);
                        for _ in 0..20 {
                            goro::yield_now(); // others arrive and park meanwhile
                        }
                        VALUE.store(42, Ordering::Relaxed);
                    });
                    VALUE.load(Ordering::Relaxed)
                })
                .unwrap()
            })
            .collect();
        join_all(hs)
    });
    assert_eq!(RUNS.load(Ordering::SeqCst), 1);
    assert!(seen.iter().all(|&v| v == 42), "a caller returned before the initialisation finished");
    assert!(ONCE.is_completed());
}

#[test]
fn semaphore_bounds_concurrency() {
    static SEM: Semaphore = Semaphore::new(3);
    static INSIDE: AtomicUsize = AtomicUsize::new(0);
    static MAX: AtomicUsize = AtomicUsize::new(0);
    run2(|| {
        let hs: Vec<_> = (0..50)
            .map(|_| {
                goro::spawn(|| {
                    for _ in 0..50 {
                        let _p = SEM.acquire();
                        let n = INSIDE.fetch_add(1, Ordering::SeqCst) + 1;
                        MAX.fetch_max(n, Ordering::SeqCst);
                        goro::yield_now();
                        INSIDE.fetch_sub(1, Ordering::SeqCst);
                    }
                })
                .unwrap()
            })
            .collect();
        join_all(hs);
        assert_eq!(SEM.available(), 3);
        // Weighted and timed acquisitions.
        let all = SEM.acquire_many(3);
        assert!(SEM.try_acquire(1).is_none());
        assert_eq!(SEM.acquire_timeout(1, Duration::from_millis(2)).unwrap_err(), Error::TimedOut);
        drop(all);
        assert_eq!(SEM.acquire_timeout(2, Duration::from_secs(30)).unwrap().count(), 2);
    });
    let max = MAX.load(Ordering::SeqCst);
    assert!((1..=3).contains(&max), "{max} holders at once with 3 permits");
}

// ----------------------------------------------------------- host threads

/// A plain std::thread wakes goroutines parked on every kind of primitive.
#[test]
fn host_thread_wakes_parked_goroutines() {
    static CH: Channel<u32, 0> = Channel::new();
    static M: Mutex<u32> = Mutex::new(0);
    static WG: WaitGroup = WaitGroup::new();
    static SEM: Semaphore = Semaphore::new(0);
    static PARKED: AtomicUsize = AtomicUsize::new(0);
    run2(|| {
        let guard = M.lock();
        WG.add(1);
        let hs: Vec<_> = vec![
            goro::spawn(|| {
                PARKED.fetch_add(1, Ordering::SeqCst);
                CH.recv().unwrap()
            })
            .unwrap(),
            goro::spawn(|| {
                PARKED.fetch_add(1, Ordering::SeqCst);
                *M.lock() + 1
            })
            .unwrap(),
            goro::spawn(|| {
                PARKED.fetch_add(1, Ordering::SeqCst);
                WG.wait();
                3
            })
            .unwrap(),
            goro::spawn(|| {
                PARKED.fetch_add(1, Ordering::SeqCst);
                SEM.acquire().forget();
                4
            })
            .unwrap(),
        ];
        wait_until("goroutines to start", || PARKED.load(Ordering::SeqCst) == 4);
        // The guard crosses to the host thread, which unlocks it there.
        let host = std::thread::spawn(move || {
            assert_eq!(goro::goroutine_id(), None);
            std::thread::sleep(Duration::from_millis(5));
            CH.send(1).unwrap(); // blocks this thread until the goroutine takes it
            drop(guard);
            WG.done();
            SEM.release(1);
        });
        let r = join_all(hs);
        host.join().unwrap();
        assert_eq!(r, [1, 1, 3, 4]);
    });
}

/// Host threads block on futexes where goroutines would park: on a
/// channel fed by a goroutine, with timeouts, and in a select.
#[test]
fn host_thread_blocks_and_times_out() {
    static CH: Channel<u32, 0> = Channel::new();
    static BACK: Channel<u32, 2> = Channel::new();
    let host = std::thread::spawn(|| {
        // Wait for the goroutine side to exist, then consume.
        let mut sum = 0;
        while let Ok(v) = CH.recv() {
            sum += v;
            BACK.send(v).unwrap();
        }
        assert_eq!(CH.recv_timeout(Duration::from_millis(1)), Err(Error::Closed));
        sum
    });
    run2(|| {
        for i in 1..=100 {
            CH.send(i).unwrap();
            assert_eq!(BACK.recv().unwrap(), i);
        }
        CH.close();
    });
    assert_eq!(host.join().unwrap(), 5050);
    // Outside any runtime: timeouts and select from a plain thread.
    static LONELY: Channel<u32, 0> = Channel::new();
    assert_eq!(LONELY.recv_timeout(Duration::from_millis(2)), Err(Error::TimedOut));
    assert!(LONELY.send_timeout(1, Duration::from_millis(2)).is_err());
    let r = Select::new().recv(&LONELY, |_| 1).timeout(Duration::from_millis(2), || 2).wait();
    assert_eq!(r, 2);
}

/// Two plain threads (no runtime at all) rendezvous over an unbuffered
/// channel and share a Mutex.
#[test]
fn primitives_work_between_plain_threads() {
    static CH: Channel<u64, 0> = Channel::new();
    static M: Mutex<u64> = Mutex::new(0);
    let t = std::thread::spawn(|| {
        for i in 0..1_000 {
            CH.send(i).unwrap();
            *M.lock() += 1;
        }
        CH.close();
    });
    let mut sum = 0;
    for v in CH.receiver() {
        sum += v;
        *M.lock() += 1;
    }
    t.join().unwrap();
    assert_eq!(sum, (0..1_000).sum::<u64>());
    assert_eq!(*M.lock(), 2_000);
}

/// A CPU hog keeps one P busy so the two players get moved between Ms:
/// wake-ups cross threads. The ping-pong goes on in rounds of 1,000 until a
/// second M has run goroutines too (when depends on how soon the OS runs
/// the second thread: a bound of 60 s, not a count, keeps this from
/// depending on the machine's load).
#[test]
fn ping_pong_across_ms() {
    static PING: Channel<u32, 0> = Channel::new();
    static PONG: Channel<u32, 0> = Channel::new();
    static BUSY: AtomicBool = AtomicBool::new(true);
    BUSY.store(true, Ordering::Relaxed);
    let (per_m, rounds) = run2(|| {
        // Counters are process-wide: take this run's share of them.
        let before = goro::stats().context_switches_per_m;
        let share = || {
            let now = goro::stats().context_switches_per_m;
            now.iter().zip(before.iter()).map(|(a, b)| a - b).collect::<Vec<u64>>()
        };
        let hog = goro::spawn(|| {
            while BUSY.load(Ordering::Relaxed) {
                for _ in 0..1000 {
                    std::hint::spin_loop();
                }
                goro::yield_now();
            }
        })
        .unwrap();
        let pong = goro::spawn(|| {
            for v in PING.receiver() {
                PONG.send(v).unwrap();
            }
        })
        .unwrap();
        let t0 = std::time::Instant::now();
        let mut i = 0u32;
        loop {
            for _ in 0..1_000 {
                PING.send(i).unwrap();
                assert_eq!(PONG.recv().unwrap(), i, "every value comes back, in order");
                i += 1;
            }
            if share().iter().filter(|&&n| n > 0).count() >= 2 || t0.elapsed() > std::time::Duration::from_secs(60) {
                break;
            }
        }
        PING.close();
        pong.join().unwrap();
        BUSY.store(false, Ordering::Relaxed);
        hog.join().unwrap();
        (share(), i)
    });
    assert!(
        per_m.iter().filter(|&&n| n > 0).count() >= 2,
        "at least two Ms ran goroutines in {rounds} rounds: {per_m:?}"
    );
}

// ------------------------------------------------------------- misuse

#[test]
fn misuse_panics_stay_in_their_goroutine_and_leave_the_primitives_usable() {
    static WG: WaitGroup = WaitGroup::new();
    static M: Mutex<u32> = Mutex::new(0);
    static O: Once = Once::new();
    let (wg_panicked, m_panicked, locked, value, once_panicked, ran_again) = run2(|| {
        // More done() than add(): a documented panic, caught at the
        // goroutine boundary; the counter is untouched and usable.
        let wg_panicked = goro::spawn(|| WG.done()).unwrap().join().is_err();
        WG.add(1);
        WG.done();
        WG.wait();
        // A panic while holding the Mutex unlocks it (no poisoning).
        let m_panicked = goro::spawn(|| {
            let mut g = M.lock();
            *g = 7;
            panic!("while holding the lock");
        });
        let m_panicked = m_panicked.unwrap().join().is_err();
        let locked = M.is_locked();
        let value = *M.lock();
        // A panicking Once counts as done.
        let once_panicked = goro::spawn(|| O.call_once(|| panic!("init failed"))).unwrap().join().is_err();
        let mut ran_again = false;
        O.call_once(|| ran_again = true);
        (wg_panicked, m_panicked, locked, value, once_panicked, ran_again)
    });
    assert!(wg_panicked && m_panicked && once_panicked);
    assert!(!locked);
    assert_eq!(value, 7);
    assert!(!ran_again);
}

#[test]
fn a_semaphore_request_beyond_the_permits_times_out_and_unblocks_the_queue() {
    static S: Semaphore = Semaphore::new(2);
    let (big, small, queued) = run2(|| {
        assert!(S.try_acquire(3).is_none());
        // A waiter queued behind the doomed request gets its permit once
        // that request times out and leaves the queue.
        let big = goro::spawn(|| S.acquire_timeout(3, Duration::from_millis(20)).err()).unwrap();
        wait_until("the big request to queue", || S.try_acquire(1).is_none() || big.is_finished());
        let small = goro::spawn(|| S.acquire().count()).unwrap();
        let big = big.join().unwrap();
        (big, small.join().unwrap(), S.available())
    });
    assert_eq!(big, Some(Error::TimedOut));
    assert_eq!(small, 1);
    assert_eq!(queued, 2);
}
