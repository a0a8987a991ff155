//! Many goroutines alive at once, and what their stacks cost in kernel
//! memory mappings. Alone in its binary: a run here leaves tens of
//! thousands of stack slots committed in the process.

use goro::sync::{Channel, WaitGroup};
use goro::{Config, Runtime};
use std::sync::Arc;

/// Kernel memory mappings of this process now.
fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps").lines().count()
}

/// Parks `n` goroutines at once (each in a receive on a channel that is
/// closed afterwards), checks that all are alive (each has run, so its
/// stack slot is in use), wakes them, joins them. Returns the mappings
/// counted before the first spawn and while all were alive.
fn park_many(rt: &'static Runtime<40_100>, n: usize) -> (usize, usize) {
    static STARTED: WaitGroup = WaitGroup::new();
    rt.run(Config::new().procs(2).stack_size(64 * 1024), move || {
        let gate: Arc<Channel<(), 0>> = Arc::new(Channel::new());
        let before = mappings();
        STARTED.add(n);
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let gate = gate.clone();
                goro::spawn(move || {
                    STARTED.done();
                    // Closed, after the count below, to wake every one.
                    assert!(gate.recv().is_err());
                    i
                })
                .unwrap_or_else(|e| panic!("spawn {i} of {n}: {e}"))
            })
            .collect();
        STARTED.wait();
        // Every goroutine has run up to its receive: all n are alive.
        assert_eq!(goro::stats().goroutines_live, n as u64 + 1);
        let during = mappings();
        // Wakes each one, parked in its receive or about to be.
        assert!(gate.close());
        let sum: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum, n * (n - 1) / 2);
        (before, during)
    })
    .unwrap()
}

#[test]
fn forty_thousand_goroutines_parked_at_once() {
    static RT: Runtime<40_100> = Runtime::new();
    // A first, small run sets up the stack region and shows how it guards.
    let (before, during) = park_many(&RT, 1_000);
    if goro::stack_guard_regions() {
        // One read-write mapping with guard regions: committing 1,000 slots
        // adds no mapping (a few for threads and the like at most).
        assert!(during < before + 100, "{before} mappings before, {during} with 1,000 parked");
        // So 40,000 fit under the default vm.max_map_count (65,530), which
        // PROT_NONE guard pages (two mappings per slot) would not.
        let (before, during) = park_many(&RT, 40_000);
        assert!(during < before + 100, "{before} mappings before, {during} with 40,000 parked");
    } else {
        // PROT_NONE guards: each slot used is a hole between two mappings.
        assert!(during >= before + 1_000, "{before} mappings before, {during} with 1,000 parked");
        eprintln!(
            "guard regions (MADV_GUARD_INSTALL, Linux 6.13) unavailable here: \
             40,000 stacks would need about 80,000 mappings, so that part is skipped"
        );
    }
}
