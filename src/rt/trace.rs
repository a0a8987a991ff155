//! The schedtrace line (Go's `GODEBUG=schedtrace=<ms>`), printed by sysmon:
//!
//! ```text
//! SCHED 1000ms: procs=2 idleprocs=1 threads=3 spinningthreads=0 idlethreads=1 runqueue=0 [0 4] goroutines=12 spawned=40 switches=812 parks=300 steals=3 polls=90 events=120 preempt=0
//! ```

use crate::sched::{self, PS, SCHED};
use crate::sys;
use core::fmt::Write;
use core::sync::atomic::Ordering;

struct Line {
    b: [u8; 512],
    n: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let k = s.len().min(self.b.len() - self.n);
        self.b[self.n..self.n + k].copy_from_slice(&s.as_bytes()[..k]);
        self.n += k;
        Ok(())
    }
}

/// Writes one `SCHED` line for `uptime_ns` to stderr.
pub(super) fn print(uptime_ns: i64) {
    let s = super::stats();
    let nprocs = SCHED.nprocs.load(Ordering::Relaxed) as usize;
    let mut l = Line { b: [0; 512], n: 0 };
    let _ = write!(
        l,
        "SCHED {}ms: procs={} idleprocs={} threads={} spinningthreads={} idlethreads={} runqueue={} [",
        uptime_ns / 1_000_000,
        nprocs,
        SCHED.npidle.load(Ordering::Relaxed),
        SCHED.mcount.load(Ordering::Relaxed),
        SCHED.nmspinning.load(Ordering::Relaxed),
        SCHED.nmidle.load(Ordering::Relaxed),
        SCHED.global.len(),
    );
    for (i, p) in PS[..nprocs].iter().enumerate() {
        let _ = write!(l, "{}{}", if i == 0 { "" } else { " " }, p.len());
    }
    let _ = writeln!(
        l,
        "] goroutines={} spawned={} switches={} parks={} steals={} polls={} events={} spins={} sysmonpolls={} preempt={}",
        s.goroutines_live,
        s.goroutines_spawned,
        s.context_switches,
        s.parks,
        s.steals,
        s.polls,
        s.poll_events,
        s.poll_spins,
        s.sysmon_polls,
        s.preempt_requests,
    );
    let _ = sched::has_arena();
    sys::write_stderr(&l.b[..l.n]);
}
