//! Goroutines, timers and parallelism.

use crate::ensure;
use crate::report::{Context, Outcome};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use core::time::Duration;
use goro::time::Instant;

/// 1000 goroutines spawned and joined; each returns a value.
pub fn spawn_join() -> Outcome {
    let mut hs: heapless::Vec<goro::JoinHandle<u64>, 1000> = heapless::Vec::new();
    for i in 0..1000u64 {
        let h = goro::spawn(move || {
            goro::yield_now();
            i * 2
        })
        .ctx("spawn")?;
        let _ = hs.push(h);
    }
    let mut sum = 0;
    for h in hs {
        sum += h.join().ctx("join")?;
    }
    ensure!(sum == 999_000, "sum of results {sum}, want 999000");
    Ok(())
}

/// `goro::sleep` waits at least as long as asked, and sleepers wake in the
/// order of their deadlines.
pub fn sleep_and_timers() -> Outcome {
    let t = Instant::now();
    goro::sleep(Duration::from_millis(20));
    let e = t.elapsed();
    ensure!(e >= Duration::from_millis(20), "sleep(20 ms) returned after {e:?}");

    static ORDER: AtomicU32 = AtomicU32::new(0);
    ORDER.store(0, Ordering::Relaxed);
    let mut hs: heapless::Vec<goro::JoinHandle<(u32, bool)>, 4> = heapless::Vec::new();
    // Spawned latest-deadline first, so the run queue order is the reverse
    // of the wake order. Deadlines 100 ms apart: even a slow TCG guest does
    // not fire two of them in one round (then two Ps could race to record).
    for k in (0..4u32).rev() {
        let h = goro::spawn(move || {
            let d = Duration::from_millis(100 * u64::from(k) + 10);
            let t = Instant::now();
            goro::sleep(d);
            (ORDER.fetch_add(1, Ordering::AcqRel), t.elapsed() >= d)
        })
        .ctx("spawn")?;
        let _ = hs.push(h);
    }
    for (i, h) in hs.into_iter().enumerate() {
        let k = 3 - i as u32;
        let (pos, long_enough) = h.join().ctx("join")?;
        ensure!(long_enough, "sleeper {k} woke early");
        ensure!(pos == k, "sleeper {k} woke in position {pos}");
    }
    Ok(())
}

/// With 2 vCPUs the runtime has 2 Ps, and two goroutines that spin (never
/// yielding) until each has seen the other run at the same time.
pub fn parallel_procs() -> Outcome {
    let st = goro::stats();
    ensure!(st.procs == 2, "{} Ps with 2 vCPUs", st.procs);
    static A: AtomicBool = AtomicBool::new(false);
    static B: AtomicBool = AtomicBool::new(false);
    fn meet(mine: &'static AtomicBool, theirs: &'static AtomicBool) -> bool {
        mine.store(true, Ordering::Release);
        let t = Instant::now();
        // Bounded, so a failure cannot hang the boot: without a second P
        // the peer never runs while this one spins.
        while !theirs.load(Ordering::Acquire) {
            if t.elapsed() > Duration::from_secs(10) {
                return false;
            }
            core::hint::spin_loop();
        }
        true
    }
    let a = goro::spawn(|| meet(&A, &B)).ctx("spawn")?;
    let b = goro::spawn(|| meet(&B, &A)).ctx("spawn")?;
    let (ra, rb) = (a.join().ctx("join")?, b.join().ctx("join")?);
    ensure!(ra && rb, "the goroutines never ran at the same time (a: {ra}, b: {rb})");
    let per_m = goro::stats().context_switches_per_m;
    let busy = per_m.iter().filter(|&&n| n > 0).count();
    ensure!(busy >= 2, "goroutines ran on {busy} thread(s)");
    Ok(())
}

extern "C" {
    fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8;
    fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8;
    fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8;
    fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32;
    fn strlen(s: *const u8) -> usize;
}

/// goro's assembly `memcpy`, `memmove` (both overlap directions),
/// `memset`, `memcmp` and `strlen`, at every length up to 40 and several
/// alignments, against plain loops.
pub fn mem_functions() -> Outcome {
    let mut a = [0u8; 128];
    let mut want = [0u8; 128];
    let fill = |b: &mut [u8; 128]| b.iter_mut().enumerate().for_each(|(i, x)| *x = (i * 7 + 1) as u8);
    for n in 0..40usize {
        for (src, dst) in [(3usize, 9usize), (9, 3), (0, 16), (16, 0), (5, 5), (1, 60)] {
            fill(&mut a);
            fill(&mut want);
            // The reference copy is a plain loop, not the function under test.
            #[allow(clippy::manual_memcpy)]
            for i in 0..n {
                want[dst + i] = a[src + i];
            }
            // SAFETY: both ranges lie inside `a` (at most 60 + 40 < 128).
            let r = unsafe { memmove(a.as_mut_ptr().add(dst), a.as_ptr().add(src), n) };
            ensure!(r == a.as_mut_ptr().wrapping_add(dst), "memmove returned the wrong pointer");
            ensure!(a == want, "memmove(n {n}, src {src}, dst {dst})");
            if src.abs_diff(dst) >= n {
                fill(&mut a);
                let b = a;
                // SAFETY: disjoint ranges inside `a`; `b` is a separate copy.
                unsafe { memcpy(a.as_mut_ptr().add(dst), b.as_ptr().add(src), n) };
                ensure!(a == want, "memcpy(n {n}, src {src}, dst {dst})");
            }
        }
        fill(&mut a);
        fill(&mut want);
        want[7..7 + n].fill(0xA5);
        // SAFETY: [7, 7 + n) lies inside `a`.
        unsafe { memset(a.as_mut_ptr().add(7), 0x1A5, n) };
        ensure!(a == want, "memset(n {n}) (the byte is c's low 8 bits)");
        let mut b = a;
        // SAFETY: both buffers hold at least n + 1 bytes.
        ensure!(unsafe { memcmp(a.as_ptr(), b.as_ptr(), n) } == 0, "memcmp of equal buffers, n {n}");
        if n > 0 {
            b[n - 1] = a[n - 1].wrapping_add(0x80);
            // SAFETY: as above.
            let c = unsafe { memcmp(a.as_ptr(), b.as_ptr(), n) };
            let want = i32::from(a[n - 1]) - i32::from(b[n - 1]);
            ensure!(c.signum() == want.signum(), "memcmp sign at n {n}: {c}, want like {want} (unsigned bytes)");
        }
        let mut s = [b'x'; 48];
        s[n] = 0;
        // SAFETY: `s` holds a NUL at index n.
        ensure!(unsafe { strlen(s.as_ptr()) } == n, "strlen of {n} bytes");
    }
    Ok(())
}
