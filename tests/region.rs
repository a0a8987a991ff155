//! The stack region is shared by every runtime of the process and replaced
//! when a runtime with another layout runs. Alone in its test binary, so no
//! other runtime runs between the steps.

use std::time::Duration;

static A: goro::Runtime<64, 16> = goro::Runtime::new();
static B: goro::Runtime<64, 16> = goro::Runtime::new();
static C: goro::Runtime<64, 16> = goro::Runtime::new();

/// Runs `n` goroutines at once on `rt` (each using its stack), joins them.
fn use_slots(rt: &'static goro::Runtime<64, 16>, stack: usize, n: usize) -> usize {
    rt.run(goro::Config::new().stack_size(stack), move || {
        let hs: Vec<_> = (0..n)
            .map(|i| {
                goro::spawn(move || {
                    let buf = std::hint::black_box([i as u8; 2048]);
                    goro::sleep(Duration::from_millis(1));
                    buf.iter().map(|&b| b as usize).sum::<usize>() / 2048
                })
                .unwrap()
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    })
    .unwrap()
}

#[test]
fn a_runtime_recommits_its_stacks_after_others_replaced_the_region() {
    let want: usize = (0..20).sum();
    // A commits slots 0..=20 of a 64 KiB-slot region.
    assert_eq!(use_slots(&A, 64 * 1024, 20), want);
    // C's 32 KiB slots replace the region; B's 64 KiB slots replace it
    // again, with A's layout, committing only what B uses.
    assert_eq!(use_slots(&C, 32 * 1024, 1), 0);
    assert_eq!(use_slots(&B, 64 * 1024, 1), 0);
    // A again: the layout is A's, but the region is not the one A
    // committed in. Trusting its old records would fault on slot 2.
    assert_eq!(use_slots(&A, 64 * 1024, 20), want);
}
