//! Whole-runtime tests of the core: spawn, yield, join, arenas, panics.
//!
//! Each test runs its own `goro::run` (runtimes serialise on a process-wide
//! lock, so cargo's parallel test threads simply take turns).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Runs `f` on a runtime with one P, where the order of execution is
/// deterministic (FIFO run queue).
fn run1<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    static RT: goro::Runtime = goro::Runtime::new();
    RT.run(goro::Config::new().procs(1), f).unwrap()
}

/// Yields until `cond` holds, failing after a generous wall-clock bound
/// (another P may need time to get to it, slowly under qemu-user).
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let t = std::time::Instant::now();
    while !cond() {
        assert!(t.elapsed() < std::time::Duration::from_secs(60), "timed out waiting for {what}");
        goro::yield_now();
    }
}

/// Spawns `n` goroutines that each log `(round, id)` and yield, `rounds`
/// times, on one P; returns the execution trace.
fn yield_trace(n: usize, rounds: usize) -> Vec<(usize, usize)> {
    static RT: goro::Runtime<5000> = goro::Runtime::new();
    RT.run(goro::Config::new().stack_size(32 * 1024).procs(1), move || {
        let trace = Arc::new(Mutex::new(Vec::with_capacity(n * rounds)));
        let hs: Vec<_> = (0..n)
            .map(|i| {
                let t = trace.clone();
                goro::spawn(move || {
                    for r in 0..rounds {
                        t.lock().unwrap().push((r, i));
                        goro::yield_now();
                    }
                })
                .unwrap()
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        Arc::try_unwrap(trace).unwrap().into_inner().unwrap()
    })
    .unwrap()
}

#[test]
fn goroutines_that_fit_the_run_queue_yield_round_robin() {
    // 200 goroutines fit in a P's 256-slot ring: spawn and yield append, so
    // each round visits them in spawn order.
    let trace = yield_trace(200, 3);
    let expected: Vec<_> = (0..3).flat_map(|r| (0..200).map(move |i| (r, i))).collect();
    assert!(trace == expected, "execution trace is not round-robin in spawn order");
}

#[test]
fn thousands_of_goroutines_yield_in_a_deterministic_order() {
    // 3000 goroutines overflow the ring into the global queue (as Go's
    // scheduler does), so the order is no longer plain round-robin, but on
    // one P it is a pure function of the program: two runs give the same
    // trace, and every goroutine runs each of its rounds exactly once, in
    // order.
    let a = yield_trace(3000, 3);
    let b = yield_trace(3000, 3);
    assert_eq!(a.len(), 9000);
    assert!(a == b, "two runs gave different traces");
    let mut next = vec![0usize; 3000];
    for &(r, i) in &a {
        assert_eq!(r, next[i], "goroutine {i} ran round {r} out of order");
        next[i] += 1;
    }
    assert!(next.iter().all(|&k| k == 3));
}

#[test]
fn spawn_from_goroutines_interleaves_as_documented() {
    // main spawns a and yields (queue: a main); a spawns b, logs, yields
    // (queue: main b a); from then on the three alternate in that order.
    let log = run1(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let la = log.clone();
        let a = goro::spawn(move || {
            let lb = la.clone();
            let b = goro::spawn(move || {
                for k in 0..3 {
                    lb.lock().unwrap().push(format!("b{k}"));
                    goro::yield_now();
                }
            })
            .unwrap();
            for k in 0..3 {
                la.lock().unwrap().push(format!("a{k}"));
                goro::yield_now();
            }
            b.join().unwrap();
        })
        .unwrap();
        goro::yield_now(); // let a start
        for k in 0..3 {
            log.lock().unwrap().push(format!("m{k}"));
            goro::yield_now();
        }
        a.join().unwrap();
        let v = log.lock().unwrap().clone();
        v
    });
    assert_eq!(log, ["a0", "m0", "b0", "a1", "m1", "b1", "a2", "m2", "b2"]);
}

#[test]
fn join_returns_results_of_any_size() {
    let (small, big, s) = goro::run(|| {
        let a = goro::spawn(|| 41u8 + 1).unwrap();
        let b = goro::spawn(|| [7u64; 512]).unwrap(); // 4 KiB result
        let c = goro::spawn(|| String::from("hello from a goroutine")).unwrap();
        (a.join().unwrap(), b.join().unwrap(), c.join().unwrap())
    })
    .unwrap();
    assert_eq!(small, 42);
    assert!(big.iter().all(|&x| x == 7));
    assert_eq!(s, "hello from a goroutine");
}

#[test]
fn join_before_and_after_the_goroutine_finishes() {
    // One P: with more, `quick` may be stolen by another M that has not yet
    // run it when main's yields are done.
    let (early, late) = run1(|| {
        // Joined while still running: the joiner parks.
        let slow = goro::spawn(|| {
            for _ in 0..10 {
                goro::yield_now();
            }
            1
        })
        .unwrap();
        let early = slow.join().unwrap();
        // Joined after it finished: no park.
        let quick = goro::spawn(|| 2).unwrap();
        for _ in 0..5 {
            goro::yield_now();
        }
        assert!(quick.is_finished());
        (early, quick.join().unwrap())
    });
    assert_eq!((early, late), (1, 2));
}

#[test]
fn main_result_and_goroutine_ids() {
    let ids = goro::run(|| {
        let me = goro::goroutine_id().unwrap();
        let h = goro::spawn(goro::goroutine_id).unwrap();
        let child_id = h.id();
        let seen = h.join().unwrap().unwrap();
        (me, child_id, seen)
    })
    .unwrap();
    assert_eq!(ids.1, ids.2, "JoinHandle::id names the goroutine");
    assert_ne!(ids.0, ids.1);
    assert_eq!(goro::goroutine_id(), None, "a host thread is not a goroutine");
}

#[test]
fn spawn_outside_a_goroutine_is_an_error() {
    assert_eq!(goro::spawn(|| ()).err(), Some(goro::Error::NotInGoroutine));
    goro::yield_now(); // harmless no-op outside
}

#[test]
fn run_inside_a_goroutine_is_an_error() {
    let r = goro::run(|| goro::run(|| ()).err()).unwrap();
    assert!(matches!(r, Some(goro::Error::InvalidConfig(_))), "{r:?}");
}

#[test]
fn invalid_stack_size_is_rejected() {
    static RT: goro::Runtime<4> = goro::Runtime::new();
    let e = RT.run(goro::Config::new().stack_size(1024), || ()).unwrap_err();
    assert!(matches!(e, goro::Error::InvalidConfig(_)));
    assert!(e.to_string().contains("stack_size"), "{e}");
}

#[test]
fn out_of_range_procs_and_stack_sizes_are_rejected_and_odd_sizes_round_up() {
    static RT: goro::Runtime<4> = goro::Runtime::new();
    for config in [
        goro::Config::new().procs(65),
        goro::Config::new().procs(usize::MAX),
        goro::Config::new().stack_size(0),
        goro::Config::new().stack_size(usize::MAX),
        goro::Config::new().stack_size((1 << 30) + 1),
    ] {
        let e = RT.run(config, || ()).unwrap_err();
        assert!(matches!(e, goro::Error::InvalidConfig(_)), "{config:?}: {e:?}");
    }
    // Not a power of two: rounded up to 32 KiB, and usable.
    let v = RT.run(goro::Config::new().procs(1).stack_size(20_001), || goro::spawn(|| 5).unwrap().join().unwrap());
    assert_eq!(v, Ok(5));
    // A region larger than the address space (150,064 slots of 1 GiB): an
    // error that says which settings to lower, not a bare ENOMEM; the
    // runtime stays usable.
    static BIG: goro::Runtime<150_000, 1> = goro::Runtime::new();
    let e = BIG.run(goro::Config::new().stack_size(1 << 30), || ()).unwrap_err();
    assert!(matches!(e, goro::Error::InvalidConfig(_)), "{e:?}");
    assert!(e.to_string().contains("stack_size"), "{e}");
    assert_eq!(RT.run(goro::Config::new().procs(1), || 6), Ok(6));
}

#[test]
fn arena_exhaustion_names_the_capacity_and_recovers() {
    static RT: goro::Runtime<8> = goro::Runtime::new();
    let (err, after) = RT
        .run(goro::Config::new(), || {
            // main uses one slot; 7 more fit.
            let hs: Vec<_> = (0..7).map(|i| goro::spawn(move || i).unwrap()).collect();
            let err = goro::spawn(|| 99).err().unwrap();
            // Finished but unjoined goroutines keep their slots... (With
            // several Ps a child may still be queued on another P after a
            // few yields: wait until every one has really finished.)
            wait_until("the children to finish", || hs.iter().all(|h| h.is_finished()));
            assert!(goro::spawn(|| 99).is_err(), "slots are held until join");
            // ...joining frees them for reuse.
            let sum: i32 = hs.into_iter().map(|h| h.join().unwrap()).sum();
            assert_eq!(sum, 21);
            let again: Vec<_> = (0..7).map(|i| goro::spawn(move || i * 2).unwrap()).collect();
            let after: i32 = again.into_iter().map(|h| h.join().unwrap()).sum();
            (err, after)
        })
        .unwrap();
    match err {
        goro::Error::ArenaFull { what, capacity } => {
            assert_eq!(capacity, 8);
            assert!(what.contains("MAX_GOROUTINES"), "{what}");
        }
        other => panic!("expected ArenaFull, got {other:?}"),
    }
    assert_eq!(after, 42);
}

#[test]
fn closure_too_large_for_the_stack_is_an_error() {
    static RT: goro::Runtime<4> = goro::Runtime::new();
    let r = RT
        .run(goro::Config::new().stack_size(64 * 1024), || {
            // The packet holds the closure and its result: a 40 KB result
            // cannot fit in half of a 60 KiB usable stack. (Nothing big is
            // materialised: the check happens before anything is moved.)
            goro::spawn(|| [0u8; 40_000]).err()
        })
        .unwrap();
    match r {
        Some(goro::Error::ClosureTooLarge { size, limit }) => {
            assert!(size > limit, "{size} {limit}")
        }
        other => panic!("expected ClosureTooLarge, got {other:?}"),
    }
}

static DROPS: AtomicUsize = AtomicUsize::new(0);
struct CountDrop;
impl Drop for CountDrop {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn detached_goroutines_run_and_their_results_are_dropped() {
    static RT: goro::Runtime<16> = goro::Runtime::new();
    let before = DROPS.load(Ordering::SeqCst);
    let live_after = RT
        .run(goro::Config::new(), move || {
            let ran = Arc::new(AtomicUsize::new(0));
            for _ in 0..10 {
                let r = ran.clone();
                // Dropped at once: detached before it runs (or, when another
                // P picked it up first, while it runs or after it finished).
                drop(goro::spawn(move || {
                    r.fetch_add(1, Ordering::SeqCst);
                    CountDrop
                }));
            }
            // Detached after it finished.
            let h = goro::spawn(|| CountDrop).unwrap();
            wait_until("the goroutine to finish", || h.is_finished());
            drop(h);
            wait_until("the detached goroutines to run", || ran.load(Ordering::SeqCst) >= 10);
            // A detached goroutine frees its slot (and drops its result) on
            // its own M after its closure returned: with several Ps that may
            // still be in progress on another thread. A slot or a result that
            // is never released fails here, after the bound.
            wait_until("every detached goroutine to exit and release its result", || {
                goro::stats().goroutines_live <= 1 && DROPS.load(Ordering::SeqCst) - before >= 11
            });
            (goro::stats().goroutines_live, ran.load(Ordering::SeqCst))
        })
        .unwrap();
    let (live_after, ran) = live_after;
    assert_eq!(ran, 10, "every detached goroutine ran exactly once");
    assert_eq!(DROPS.load(Ordering::SeqCst) - before, 11, "every result dropped exactly once");
    assert_eq!(live_after, 1, "only main still holds a slot");
}

#[test]
fn a_host_thread_can_join_a_goroutine() {
    let got = goro::run(|| {
        let h = goro::spawn(|| {
            for _ in 0..100 {
                goro::yield_now();
            }
            "done"
        })
        .unwrap();
        let joiner = std::thread::spawn(move || h.join().unwrap());
        while !joiner.is_finished() {
            goro::yield_now();
        }
        joiner.join().unwrap()
    })
    .unwrap();
    assert_eq!(got, "done");
}

#[test]
fn a_handle_that_outlives_its_runtime_reports_lost() {
    let h = goro::run(|| {
        goro::spawn(|| loop {
            goro::yield_now();
        })
        .unwrap()
    })
    .unwrap();
    assert!(matches!(h.join(), Err(goro::JoinError::Lost)));
}

#[test]
fn a_host_thread_joining_an_abandoned_goroutine_gets_lost() {
    // The host thread blocks in join (most likely: main sleeps first, but
    // either order must give Lost); main returns, the runtime abandons the
    // goroutine, and the join returns instead of waiting forever.
    let joiner = goro::run(|| {
        let h = goro::spawn(|| loop {
            goro::sleep(std::time::Duration::from_millis(1));
        })
        .unwrap();
        let joiner = std::thread::spawn(move || h.join());
        goro::sleep(std::time::Duration::from_millis(20));
        joiner
    })
    .unwrap();
    assert!(matches!(joiner.join().unwrap(), Err(goro::JoinError::Lost)));
}

#[test]
fn a_goroutine_joining_itself_gets_an_error_instead_of_hanging() {
    use goro::sync::Channel;
    static HANDLE: Channel<goro::JoinHandle<()>, 1> = Channel::new();
    static RESULT: Channel<String, 1> = Channel::new();
    let msg = run1(|| {
        let h = goro::spawn(|| {
            let me = HANDLE.recv().unwrap();
            let r = me.join();
            let self_join = matches!(r, Err(goro::JoinError::SelfJoin));
            RESULT.send(format!("{}:{self_join}", r.err().map(|e| e.to_string()).unwrap_or_default())).unwrap();
        })
        .unwrap();
        HANDLE.send(h).unwrap();
        let msg = RESULT.recv().unwrap();
        // The refused handle was dropped, which detached the goroutine: its
        // slot is freed when it exits.
        wait_until("the goroutine's slot to be freed", || goro::stats().goroutines_live == 1);
        msg
    });
    assert_eq!(msg, "a goroutine cannot join itself:true");
}

#[test]
fn a_handle_kept_past_its_runtime_is_lost_in_another_runtime() {
    // Two runtimes whose arenas hand out the same slot index and
    // generation: the stale handle must not reach the other's goroutine
    // (nor read its result as the wrong type, nor detach it).
    static A: goro::Runtime<8, 8> = goro::Runtime::new();
    static B: goro::Runtime<8, 8> = goro::Runtime::new();
    let stale = A
        .run(goro::Config::new().procs(1), || {
            goro::spawn(|| loop {
                goro::yield_now();
            })
            .unwrap()
        })
        .unwrap();
    let (lost, finished, id, own) = B
        .run(goro::Config::new().procs(1), move || {
            let own = goro::spawn(|| 42u64).unwrap();
            let finished = stale.is_finished();
            let id = stale.id();
            let lost = matches!(stale.join(), Err(goro::JoinError::Lost));
            (lost, finished, id, own.join().unwrap())
        })
        .unwrap();
    assert!(lost, "the stale handle joined a goroutine of another runtime");
    assert!(finished);
    assert_eq!(id, 0);
    assert_eq!(own, 42);
}

#[test]
fn panics_surface_through_join() {
    let msg = goro::run(|| {
        let h = goro::spawn(|| -> u32 { panic!("boom in a goroutine") }).unwrap();
        let ok = goro::spawn(|| 5).unwrap();
        let e = h.join().unwrap_err();
        assert_eq!(ok.join().unwrap(), 5, "other goroutines are unaffected");
        match e {
            goro::JoinError::Panicked(p) => p.message().unwrap().to_string(),
            other => panic!("{other:?}"),
        }
    })
    .unwrap();
    assert_eq!(msg, "boom in a goroutine");
}

#[test]
fn a_panic_in_main_resumes_in_the_caller() {
    let r = std::panic::catch_unwind(|| goro::run(|| panic!("main goroutine panicked")));
    let payload = r.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"main goroutine panicked"));
    // The runtime is usable again afterwards.
    assert_eq!(goro::run(|| 7).unwrap(), 7);
}

#[test]
fn stats_count_spawns_and_switches() {
    // One P, so each child is still queued (not stolen and finished by
    // another M) when main joins it, and the join parks.
    let (before, after) = run1(|| {
        let before = goro::stats();
        for _ in 0..10 {
            goro::spawn(goro::yield_now).unwrap().join().unwrap();
        }
        (before, goro::stats())
    });
    assert!(after.goroutines_spawned >= before.goroutines_spawned + 10);
    assert!(after.yields >= before.yields + 10);
    assert!(after.context_switches >= before.context_switches + 20);
    assert!(after.parks >= before.parks + 10, "each join of a running goroutine parks");
}

#[test]
fn sleeping_goroutines_wake_in_deadline_order() {
    use std::time::{Duration, Instant};
    // One P: with more, the sleepers start at different times (each counts
    // its sleep from when it runs, which another M may delay), and two
    // woken goroutines on different Ms race to log. On one P the timers
    // fire in deadline order and the woken goroutines run in that order.
    // The deadlines are 50 ms apart: timers overdue by more than sysmon's
    // 10 ms are fired by sysmon into the global queue, and a later one the
    // M fires itself into its local queue would run first, so a thread
    // descheduled for longer than the spacing (a loaded machine) could see
    // two wake-ups swap.
    let (order, elapsed) = run1(|| {
        let start = Instant::now();
        let order = Arc::new(Mutex::new(Vec::new()));
        let hs: Vec<_> = [150u64, 50, 100, 0]
            .into_iter()
            .map(|ms| {
                let o = order.clone();
                goro::spawn(move || {
                    goro::sleep(Duration::from_millis(ms));
                    o.lock().unwrap().push(ms);
                })
                .unwrap()
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let v = order.lock().unwrap().clone();
        (v, start.elapsed())
    });
    assert_eq!(order, [0, 50, 100, 150]);
    assert!(elapsed >= Duration::from_millis(150), "slept at least the longest sleep: {elapsed:?}");
}

#[test]
fn goro_instant_is_monotonic_and_host_sleep_blocks_the_thread() {
    let t0 = goro::time::Instant::now();
    goro::sleep(std::time::Duration::from_millis(5));
    let d = t0.elapsed();
    assert!(d >= std::time::Duration::from_millis(5), "{d:?}");
}

#[test]
fn timers_abandoned_by_one_runtime_do_not_corrupt_the_next() {
    // A leaves a goroutine asleep (its timer stays in the process-wide
    // heap); B, with other timer storage, runs next; then A again, whose
    // goroutines sleep and wake as usual (the abandoned timer kept a stale
    // heap position before, and the next sleep aborted).
    static A: goro::Runtime<64, 64> = goro::Runtime::new();
    static B: goro::Runtime<16, 16> = goro::Runtime::new();
    let hour = std::time::Duration::from_secs(3600);
    let ms = std::time::Duration::from_millis(1);
    A.run(goro::Config::new().procs(1), move || {
        goro::spawn(move || goro::sleep(hour)).unwrap();
        goro::sleep(ms);
    })
    .unwrap();
    B.run(goro::Config::new().procs(1), move || goro::sleep(ms)).unwrap();
    let woke = A
        .run(goro::Config::new().procs(1), move || {
            let hs: Vec<_> = (1..=3u32)
                .map(|k| {
                    goro::spawn(move || {
                        goro::sleep(ms * k);
                        k
                    })
                    .unwrap()
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum::<u32>()
        })
        .unwrap();
    assert_eq!(woke, 6);
}

#[test]
fn large_results_fit_or_are_refused_never_overflow() {
    // A 12,000-byte result on a 60 KiB stack: an optimised build returns it
    // in place; a debug build copies it several times as the goroutine
    // returns (that overflowed the stack), so spawn refuses it up front.
    static RT: goro::Runtime<4> = goro::Runtime::new();
    let r = RT
        .run(goro::Config::new().stack_size(64 * 1024), || {
            goro::spawn(|| {
                let mut a = [0u8; 12_000];
                a[11_999] = 7;
                a
            })
            .map(|h| h.join().unwrap()[11_999])
        })
        .unwrap();
    if cfg!(debug_assertions) {
        assert!(matches!(r, Err(goro::Error::ClosureTooLarge { .. })), "{r:?}");
    } else {
        assert_eq!(r, Ok(7));
    }
}

#[test]
fn a_detached_results_destructor_may_panic_or_park() {
    // Detached goroutines drop their results when they finish, on their
    // own stacks: a destructor that panics is caught (it aborted the
    // process from the scheduler's stack before), and one that parks on a
    // lock held elsewhere waits for it (it blocked the only thread).
    struct PanicDrop;
    impl Drop for PanicDrop {
        fn drop(&mut self) {
            panic!("drop of a detached result");
        }
    }
    static M: goro::sync::Mutex<u32> = goro::sync::Mutex::new(0);
    struct ParkDrop;
    impl Drop for ParkDrop {
        fn drop(&mut self) {
            *M.lock() += 1;
        }
    }
    static RT: goro::Runtime<8> = goro::Runtime::new();
    let ms = std::time::Duration::from_millis(5);
    let n = RT.run(goro::Config::new().procs(1), move || {
        drop(
            goro::spawn(move || {
                goro::sleep(ms);
                PanicDrop
            })
            .unwrap(),
        );
        let held = M.lock();
        drop(
            goro::spawn(move || {
                goro::sleep(ms);
                ParkDrop
            })
            .unwrap(),
        );
        goro::sleep(ms * 4);
        drop(held);
        // The parked destructor gets the lock once it is free.
        loop {
            let n = *M.lock();
            if n == 1 {
                return n;
            }
            goro::yield_now();
        }
    });
    assert_eq!(n.unwrap(), 1);
}
