//! The M:N scheduler: parallelism, cross-thread wake-ups, stealing, sysmon,
//! idle behaviour, locked threads, schedtrace. Runtimes here use two Ps
//! (this machine has two cores), one test one P; the assertions do not
//! depend on timing.

use goro::poll::Fd;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn run2<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    static RT: goro::Runtime<20_000, 4_000> = goro::Runtime::new();
    RT.run(goro::Config::new().procs(2).stack_size(64 * 1024), f).unwrap()
}

/// The calling thread's kernel id (std does not expose gettid; the
/// /proc/thread-self link names it).
fn tid() -> i32 {
    std::fs::read_link("/proc/thread-self").unwrap().file_name().unwrap().to_str().unwrap().parse().unwrap()
}

#[test]
fn cpu_bound_goroutines_run_in_parallel() {
    // Two goroutines that never yield each wait to see the other make
    // progress. On one thread this could never happen (neither would give
    // the other a turn); the bound only turns a hang into a failure.
    let (seen_a, seen_b, threads, per_m) = run2(|| {
        // Counters are process-wide: take this run's share of them.
        let before = goro::stats().context_switches_per_m;
        let progress = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let hs: Vec<_> = (0..2)
            .map(|me| {
                let progress = progress.clone();
                goro::spawn(move || {
                    let other = 1 - me;
                    let start = Instant::now();
                    let mut seen_other = 0;
                    while seen_other < 1_000 && start.elapsed() < Duration::from_secs(20) {
                        progress[me].fetch_add(1, Ordering::Relaxed);
                        let o = progress[other].load(Ordering::Relaxed);
                        if o > 0 {
                            seen_other += 1;
                        }
                        std::hint::spin_loop();
                    }
                    (seen_other, tid())
                })
                .unwrap()
            })
            .collect();
        let mut r = hs.into_iter().map(|h| h.join().unwrap());
        let (a, ta) = r.next().unwrap();
        let (b, tb) = r.next().unwrap();
        let after = goro::stats().context_switches_per_m;
        let per_m: Vec<u64> = after.iter().zip(before.iter()).map(|(a, b)| a - b).collect();
        (a, b, (ta, tb), per_m)
    });
    assert_eq!((seen_a, seen_b), (1_000, 1_000), "the two CPU-bound goroutines did not run at the same time");
    assert_ne!(threads.0, threads.1, "parallel goroutines must be on different threads");
    assert!(per_m.iter().filter(|&&n| n > 0).count() >= 2, "at least two Ms ran goroutines: {per_m:?}");
}

/// Two goroutines exchange numbers over two pipes while a CPU hog keeps one
/// P busy, so the players get moved between threads: every number comes
/// back in order, and the exchange runs on at least two threads. It goes on
/// in rounds of 500 until it has (how soon depends on when the OS runs the
/// second thread; 60 s is only a bound).
#[test]
fn ping_pong_across_threads_over_pipes() {
    let (count, threads) = run2(|| {
        let (r1, w1) = Fd::pipe().unwrap();
        let (r2, w2) = Fd::pipe().unwrap();
        let busy = Arc::new(AtomicBool::new(true));
        let tids = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
        let b = busy.clone();
        let hog = goro::spawn(move || {
            while b.load(Ordering::Relaxed) {
                for _ in 0..1000 {
                    std::hint::spin_loop();
                }
                goro::yield_now();
            }
        })
        .unwrap();
        let t = tids.clone();
        let pong = goro::spawn(move || {
            let mut buf = [0u8; 4];
            loop {
                let mut got = 0;
                while got < 4 {
                    got += r1.read(&mut buf[got..]).unwrap();
                }
                if u32::from_le_bytes(buf) == u32::MAX {
                    return;
                }
                t.lock().unwrap().insert(tid());
                w2.write_all(&buf).unwrap();
            }
        })
        .unwrap();
        let mut count = 0u32;
        let mut buf = [0u8; 4];
        let t0 = Instant::now();
        loop {
            for _ in 0..500 {
                w1.write_all(&count.to_le_bytes()).unwrap();
                let mut got = 0;
                while got < 4 {
                    got += r2.read(&mut buf[got..]).unwrap();
                }
                assert_eq!(u32::from_le_bytes(buf), count, "every number comes back, in order");
                tids.lock().unwrap().insert(tid());
                count += 1;
            }
            if tids.lock().unwrap().len() >= 2 || t0.elapsed() > Duration::from_secs(60) {
                break;
            }
        }
        w1.write_all(&u32::MAX.to_le_bytes()).unwrap();
        pong.join().unwrap();
        busy.store(false, Ordering::Relaxed);
        hog.join().unwrap();
        let threads = tids.lock().unwrap().len();
        (count, threads)
    });
    assert!(count >= 500);
    assert!(threads >= 2, "the exchange ran on {threads} thread(s) in {count} rounds");
}

#[test]
fn hundred_thousand_goroutines_park_and_wake_exactly_once() {
    // 100,000 goroutines in waves of at most 2,000 alive: each parks on a
    // pipe, a timer, or a join, yields at random, and marks itself done;
    // every mark must go from 0 to 1 exactly once.
    const TOTAL: usize = 100_000;
    const WAVE: usize = 2_000;
    let done: Arc<Vec<AtomicU8>> = Arc::new((0..TOTAL).map(|_| AtomicU8::new(0)).collect());
    let d = done.clone();
    let doubles = run2(move || {
        let doubles = Arc::new(AtomicUsize::new(0));
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for wave in 0..TOTAL / WAVE {
            let mut hs = Vec::with_capacity(WAVE);
            let mut writers = Vec::new();
            for k in 0..WAVE {
                let id = wave * WAVE + k;
                let r = rnd();
                let d = d.clone();
                let doubles = doubles.clone();
                let yields = (r >> 8) % 3;
                let body = move || {
                    for _ in 0..yields {
                        goro::yield_now();
                    }
                    if d[id].fetch_add(1, Ordering::SeqCst) != 0 {
                        doubles.fetch_add(1, Ordering::SeqCst);
                    }
                };
                let h = match r % 3 {
                    0 => {
                        // Park on a pipe that another goroutine writes later.
                        let (rd, wr) = Fd::pipe().unwrap();
                        writers.push(wr);
                        goro::spawn(move || {
                            let mut b = [0u8; 1];
                            assert_eq!(rd.read(&mut b).unwrap(), 1);
                            body();
                        })
                        .unwrap()
                    }
                    1 => goro::spawn(move || {
                        goro::sleep(Duration::from_micros(r % 2000));
                        body();
                    })
                    .unwrap(),
                    _ => goro::spawn(move || {
                        let child = goro::spawn(goro::yield_now).unwrap();
                        child.join().unwrap();
                        body();
                    })
                    .unwrap(),
                };
                hs.push(h);
            }
            let writer = goro::spawn(move || {
                for w in writers {
                    w.write_all(b"x").unwrap();
                }
            })
            .unwrap();
            writer.join().unwrap();
            for h in hs {
                h.join().unwrap();
            }
        }
        doubles.load(Ordering::SeqCst)
    });
    assert_eq!(doubles, 0, "some goroutine finished twice");
    let missing = done.iter().filter(|x| x.load(Ordering::SeqCst) != 1).count();
    assert_eq!(missing, 0, "{missing} goroutines did not finish exactly once");
}

/// Goroutines that only ever yield to each other keep every P busy, so no
/// P runs out of work and only sysmon's fallback poll can deliver the data
/// a host thread writes (after 50 ms) to a pipe a goroutine reads. Returns
/// what the read returned, whether the data (not the `bound`) stopped the
/// yielders, and how many fallback polls sysmon made meanwhile.
fn starved_reader(yielders: usize, bound: Duration) -> (usize, bool, u64) {
    let before = goro::stats().sysmon_polls;
    let stop = Arc::new(AtomicBool::new(false));
    let spinners: Vec<_> = (0..yielders)
        .map(|_| {
            let stop = stop.clone();
            goro::spawn(move || {
                let start = Instant::now();
                while !stop.load(Ordering::Relaxed) && start.elapsed() < bound {
                    for _ in 0..10_000 {
                        std::hint::spin_loop();
                    }
                    goro::yield_now();
                }
                stop.load(Ordering::Relaxed)
            })
            .unwrap()
        })
        .collect();
    let (r, w) = Fd::pipe().unwrap();
    let s2 = stop.clone();
    let reader = goro::spawn(move || {
        let mut b = [0u8; 1];
        let n = r.read(&mut b).unwrap();
        s2.store(true, Ordering::Relaxed);
        n
    })
    .unwrap();
    // Write from a host thread once the reader has surely parked.
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        w.write_all(b"!").unwrap();
        w
    });
    let woke = reader.join().unwrap();
    // Join every spinner (collect first: `all` would stop early).
    let stopped: Vec<bool> = spinners.into_iter().map(|s| s.join().unwrap()).collect();
    drop(writer.join().unwrap());
    (woke, stopped.iter().all(|&s| s), goro::stats().sysmon_polls - before)
}

#[test]
fn sysmon_delivers_readiness_while_every_p_is_busy() {
    let (woke, _, sysmon_polls) = run2(|| starved_reader(2, Duration::from_secs(30)));
    assert_eq!(woke, 1, "the reader must have been woken by the data");
    assert!(sysmon_polls >= 1, "sysmon's fallback poll should have delivered it");
}

/// A goroutine whose timer sysmon fires while every P is busy with
/// goroutines that reach a yield point only when preempted (reads that
/// fail at once on an expired deadline) is run at the next switch, not at
/// each P's every-61st round: it woke after about 170 preemptions (0.85 s
/// for a 20 ms sleep) before. Counted in preemptions, not time.
#[test]
fn a_timer_fired_by_sysmon_runs_soon_on_a_busy_runtime() {
    use goro::time::Instant;
    let preempts = run2(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let spinners: Vec<_> = (0..4)
            .map(|_| {
                let stop = stop.clone();
                goro::spawn(move || {
                    let (r, _w) = Fd::pipe().unwrap();
                    r.set_read_deadline(Some(Instant::now())).unwrap();
                    while !stop.load(Ordering::Relaxed) {
                        assert_eq!(r.read(&mut [0u8; 8]), Err(goro::Error::TimedOut));
                    }
                })
                .unwrap()
            })
            .collect();
        // Let the spinners take both Ps.
        let before = goro::stats().preempt_requests;
        while goro::stats().preempt_requests < before + 4 {
            goro::yield_now();
        }
        let before = goro::stats().preempt_requests;
        goro::sleep(Duration::from_millis(20));
        let during = goro::stats().preempt_requests - before;
        stop.store(true, Ordering::Relaxed);
        spinners.into_iter().for_each(|h| h.join().unwrap());
        during
    });
    assert!(preempts < 40, "the sleeper woke after {preempts} preemptions");
}

/// `lock_os_thread` keeps one unlocked thread per P plus one for the
/// other goroutines (the runtime hung without them): with 2 Ps, 61 of 64
/// goroutines that lock their threads (and sleep while locked) succeed and
/// the rest get `ArenaFull`, and the only thread of a `Donated` runtime
/// cannot be locked; everything still runs to the end.
#[test]
fn lock_os_thread_leaves_a_thread_for_the_others() {
    use goro::sync::Channel;
    static RESULTS: Channel<bool, 64> = Channel::new();
    static GO: Channel<(), 64> = Channel::new();
    let locked = run2(|| {
        let hs: Vec<_> = (0..64)
            .map(|_| {
                goro::spawn(|| {
                    let r = goro::lock_os_thread();
                    assert!(matches!(r, Ok(()) | Err(goro::Error::ArenaFull { .. })), "{r:?}");
                    RESULTS.send(r.is_ok()).unwrap();
                    for i in 0..20u64 {
                        goro::sleep(Duration::from_micros(100 + i * 37 % 300));
                    }
                    GO.recv().unwrap();
                    goro::unlock_os_thread().unwrap();
                })
                .unwrap()
            })
            .collect();
        let locked = (0..64).filter(|_| RESULTS.recv().unwrap()).count();
        for _ in 0..64 {
            GO.send(()).unwrap();
        }
        hs.into_iter().for_each(|h| h.join().unwrap());
        // All unlocked: a thread can be locked again.
        goro::lock_os_thread().unwrap();
        goro::unlock_os_thread().unwrap();
        locked
    });
    assert_eq!(locked, 61);

    static RT: goro::Runtime<8> = goro::Runtime::new();
    let (r, v) = RT
        .run(goro::Config::new().procs(1).threads(goro::Threads::Donated), || {
            let r = goro::lock_os_thread();
            (r, goro::spawn(|| 5).unwrap().join().unwrap())
        })
        .unwrap();
    assert!(matches!(r, Err(goro::Error::ArenaFull { .. })), "{r:?}");
    assert_eq!(v, 5);
}

#[test]
fn a_locked_goroutine_stays_on_its_thread_and_has_it_alone() {
    let (locked_tids, others_during) = run2(|| {
        let locked_phase = Arc::new(AtomicBool::new(false));
        let lp = locked_phase.clone();
        let locked = goro::spawn(move || {
            goro::lock_os_thread().unwrap();
            lp.store(true, Ordering::SeqCst);
            let mut tids = std::collections::HashSet::new();
            for i in 0..200 {
                tids.insert(tid());
                if i % 2 == 0 {
                    goro::yield_now();
                } else {
                    goro::sleep(Duration::from_micros(200));
                }
            }
            lp.store(false, Ordering::SeqCst);
            goro::unlock_os_thread().unwrap();
            tids
        })
        .unwrap();
        let others: Vec<_> = (0..4)
            .map(|_| {
                let lp = locked_phase.clone();
                goro::spawn(move || {
                    let mut seen = Vec::new();
                    for _ in 0..400 {
                        if lp.load(Ordering::SeqCst) {
                            seen.push(tid());
                        }
                        goro::yield_now();
                    }
                    seen
                })
                .unwrap()
            })
            .collect();
        let locked_tids = locked.join().unwrap();
        let during: Vec<i32> = others.into_iter().flat_map(|h| h.join().unwrap()).collect();
        (locked_tids, during)
    });
    assert_eq!(locked_tids.len(), 1, "a locked goroutine ran on several threads: {locked_tids:?}");
    let t = *locked_tids.iter().next().unwrap();
    // While it was locked, nobody else ran on its thread (a goroutine
    // sampled just before locking may land on it: allow none after).
    assert!(!others_during.contains(&t), "another goroutine ran on the locked thread");
}

fn child(case: &str, test: &str, env: &[(&str, &str)]) -> std::process::Output {
    let exe = std::env::current_exe().unwrap();
    let args = [test, "--exact", "--nocapture", "--test-threads=1"];
    let run = |mut c: Command| {
        c.env("GORO_CHILD", case);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output()
    };
    let mut direct = Command::new(&exe);
    direct.args(args);
    match run(direct) {
        Err(e) if e.raw_os_error() == Some(8) && cfg!(target_arch = "aarch64") => {
            let mut via = Command::new("qemu-aarch64-static");
            via.arg(&exe).args(args);
            run(via).unwrap()
        }
        r => r.unwrap(),
    }
}

fn ctx_switches(exclude: i32) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir("/proc/self/task").unwrap() {
        let e = e.unwrap();
        let t: i32 = e.file_name().to_str().unwrap().parse().unwrap();
        if t == exclude {
            continue;
        }
        let Ok(s) = std::fs::read_to_string(e.path().join("status")) else { continue };
        for l in s.lines() {
            if l.starts_with("voluntary_ctxt_switches") || l.starts_with("nonvoluntary_ctxt_switches") {
                total += l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap();
            }
        }
    }
    total
}

#[test]
fn an_idle_runtime_with_1000_parked_readers_settles() {
    if std::env::var("GORO_CHILD").as_deref() == Ok("idle") {
        let rate = run2(|| {
            let mut writers = Vec::new();
            let mut readers = Vec::new();
            for _ in 0..1000 {
                let (r, w) = Fd::pipe().unwrap();
                writers.push(w);
                readers.push(
                    goro::spawn(move || {
                        let mut b = [0u8; 1];
                        r.read(&mut b).unwrap()
                    })
                    .unwrap(),
                );
            }
            // Measure from a host thread (excluded from the count) while
            // the runtime has nothing to do: every goroutine is parked.
            let (tx, rx) = Fd::pipe().unwrap();
            let meter = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(500)); // settle
                let me = tid();
                let t0 = Instant::now();
                let c0 = ctx_switches(me);
                std::thread::sleep(Duration::from_secs(3));
                let c1 = ctx_switches(me);
                let secs = t0.elapsed().as_secs_f64();
                rx.write_all(b"x").unwrap();
                (c1 - c0) as f64 / secs
            });
            let mut b = [0u8; 1];
            tx.read(&mut b).unwrap(); // main parks too
            let rate = meter.join().unwrap();
            for w in &writers {
                w.write_all(b"y").unwrap();
            }
            for r in readers {
                r.join().unwrap();
            }
            rate
        });
        println!("IDLE_WAKEUPS_PER_SEC {rate:.2}");
        return;
    }
    let out = child("idle", "an_idle_runtime_with_1000_parked_readers_settles", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {:?} {}", out.status.signal(), String::from_utf8_lossy(&out.stderr));
    let at = stdout.find("IDLE_WAKEUPS_PER_SEC ").expect("no measurement");
    let rate: f64 = stdout[at..].split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(rate <= 1.0, "an idle runtime woke {rate} times per second (Go's settles to at most 1)");
}

#[test]
fn schedtrace_prints_sched_lines() {
    if std::env::var("GORO_CHILD").as_deref() == Ok("trace") {
        run2(|| goro::sleep(Duration::from_millis(300)));
        return;
    }
    let out = child("trace", "schedtrace_prints_sched_lines", &[("GORO_SCHEDTRACE", "50")]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<_> = stderr.lines().filter(|l| l.starts_with("SCHED ")).collect();
    assert!(lines.len() >= 2, "expected periodic SCHED lines, got: {stderr}");
    assert!(lines[0].contains("procs=2") && lines[0].contains("idleprocs="), "{}", lines[0]);
}

/// `GORO_POLLSPIN=<us>` overrides `Config::poll_spin`, and is checked like
/// it: 10001 us is over the 10 ms limit, and the error names the variable.
#[test]
fn goro_pollspin_overrides_the_config() {
    if std::env::var("GORO_CHILD").as_deref() == Ok("pollspin") {
        static RT: goro::Runtime<4> = goro::Runtime::new();
        let e = RT.run(goro::Config::new().poll_spin(Duration::ZERO), || ()).unwrap_err();
        println!("POLLSPIN_ERR {e}");
        return;
    }
    let out = child("pollspin", "goro_pollspin_overrides_the_config", &[("GORO_POLLSPIN", "10001")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {}", String::from_utf8_lossy(&out.stderr));
    // libtest prints the child's line after its own "test ... " prefix.
    let at = stdout.find("POLLSPIN_ERR ").expect("no result line");
    let line = stdout[at..].lines().next().unwrap_or_default();
    assert!(line.contains("GORO_POLLSPIN must be at most 10000 (us)"), "{line}");
}

/// An environment entry longer than the reader's 4 KiB buffer is skipped
/// whole: its tail is not read as an entry of its own (a value whose bytes
/// from 4096 on spelled `GORO_PROCS=65` made every run fail).
#[test]
fn an_overlong_environment_entry_is_skipped_whole() {
    if std::env::var("GORO_CHILD").as_deref() == Ok("longenv") {
        static RT: goro::Runtime<4> = goro::Runtime::new();
        let r = RT.run(goro::Config::new().procs(1), || ());
        println!("LONGENV {r:?}");
        return;
    }
    let key = "GORO_TEST_LONG";
    let value = "A".repeat(4096 - key.len() - 1) + "GORO_PROCS=65";
    let out = child("longenv", "an_overlong_environment_entry_is_skipped_whole", &[(key, &value)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {}", String::from_utf8_lossy(&out.stderr));
    let at = stdout.find("LONGENV ").expect("no result line");
    let line = stdout[at..].lines().next().unwrap_or_default();
    assert_eq!(line, "LONGENV Ok(())");
}

#[test]
fn donated_threads_run_goroutines() {
    static RT: goro::Runtime = goro::Runtime::new();
    let (tids, main_tid) = RT
        .run(goro::Config::new().procs(2).threads(goro::Threads::Donated), || {
            let donor = std::thread::spawn(goro::donate_thread);
            let main_tid = tid();
            // Keep the main goroutine busy so another thread must run the
            // rest: only the donated one exists.
            let flag = Arc::new(AtomicBool::new(false));
            let f = flag.clone();
            let h = goro::spawn(move || {
                f.store(true, Ordering::SeqCst);
                tid()
            })
            .unwrap();
            let start = Instant::now();
            while !flag.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(20) {
                std::hint::spin_loop();
            }
            let t = h.join().unwrap();
            std::mem::forget(donor); // it returns when the runtime stops
            (t, main_tid)
        })
        .unwrap();
    assert_ne!(tids, main_tid, "the spawned goroutine ran on the donated thread");
}

/// sysmon sleeps without a timeout while every P is idle. Here the only P
/// goes idle (main parks on a pipe, no timer pending) and comes back
/// through the poller, not through `wakep`: sysmon must resume its rounds
/// then too, or goroutines that keep the P busy would starve a reader whose
/// data only a poll can deliver.
#[test]
fn sysmon_resumes_when_the_poller_takes_the_only_p() {
    static RT: goro::Runtime<64, 64> = goro::Runtime::new();
    let (woke, by_reader, sysmon_polls) = RT
        .run(goro::Config::new().procs(1).stack_size(64 * 1024), || {
            let (r0, w0) = Fd::pipe().unwrap();
            let waker = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                w0.write_all(b"go").unwrap();
                w0
            });
            let mut b = [0u8; 2];
            assert_eq!(r0.read(&mut b).unwrap(), 2);
            drop(waker.join().unwrap());
            // Main came back through the poller. Now yielders keep the P
            // busy; only sysmon's fallback poll can wake the reader.
            starved_reader(2, Duration::from_secs(10))
        })
        .unwrap();
    assert_eq!(woke, 1);
    assert!(by_reader, "the reader was woken only after the yielders gave up (10 s)");
    assert!(sysmon_polls >= 1, "sysmon's fallback poll should have delivered the data");
}

/// Goroutines woken by I/O go to the waking M's P, and a lone one there
/// wakes no helper M (it runs once the current goroutine parks). Should
/// the goroutine that M runs first compute without ever yielding, sysmon
/// must wake an M to steal the other. Here that first goroutine spins until
/// the other has run, so without sysmon's help it would spin until the
/// bound. Both pipes become readable at once, and the rounds alternate the
/// order, so that in some round the spinner is the one run first.
#[test]
fn io_wakeup_queued_behind_a_spinning_goroutine_still_runs() {
    for round in 0..6u32 {
        let (ran, waited) = run2(move || {
            let (ra, wa) = Fd::pipe().unwrap();
            let (rb, wb) = Fd::pipe().unwrap();
            let flag = Arc::new(AtomicBool::new(false));
            let f = flag.clone();
            let other = goro::spawn(move || {
                let mut b = [0u8; 1];
                rb.read(&mut b).unwrap();
                f.store(true, Ordering::Release);
            })
            .unwrap();
            // A host thread, so that no M is left looking for work once
            // the pipes are written (one would steal the queued goroutine).
            let writer = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30)); // both readers park, both Ms sleep
                let (first, second) = if round % 2 == 0 { (&wa, &wb) } else { (&wb, &wa) };
                first.write(b"x").unwrap();
                second.write(b"x").unwrap();
            });
            let mut b = [0u8; 1];
            ra.read(&mut b).unwrap();
            // No yield point from here until the other goroutine has run.
            let t0 = Instant::now();
            while !flag.load(Ordering::Acquire) && t0.elapsed() < Duration::from_secs(20) {
                std::hint::spin_loop();
            }
            let waited = t0.elapsed();
            let ran = flag.load(Ordering::Acquire);
            other.join().unwrap();
            writer.join().unwrap();
            (ran, waited)
        });
        assert!(ran, "round {round}: the goroutine queued behind a spinning one did not run within {waited:?}");
    }
}
