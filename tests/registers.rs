//! Callee-saved register preservation across goroutine switches.
//!
//! Compiled Rust only keeps values in callee-saved registers across a call,
//! so the context switch (`arch/*/context.s`) must hand every goroutine back
//! exactly the callee-saved state it had when it switched away. Each test
//! here runs goroutines that, inside one `asm!` block, load known values
//! into every callee-saved register and the floating-point control
//! registers, call an `extern "C"` function that switches away (`yield_now`,
//! or spawn-and-join, which parks), and read everything back before any
//! compiled code can touch it. The other goroutines do the same with other
//! values, so a register that is not switched per goroutine shows up as a
//! mismatch naming that register.
//!
//! | arch | registers checked |
//! |---|---|
//! | x86_64 | rbx, rbp, r12-r15, MXCSR control bits, x87 control word |
//! | aarch64 | x19-x28, x29 (fp), d8-d15, FPCR |
//!
//! x18 (AArch64 platform register) is never touched. rbx/rbp and x19/x29
//! cannot be `asm!` operands (LLVM reserves them), so the asm saves them on
//! the stack itself and restores them before it ends; the function it calls
//! is ordinary code that keeps them (frame-pointer chains through the bogus
//! rbp/x29 are not walked: nothing unwinds or backtraces through that call).
//!
//! Limits: between the asm and `goro_switch` sit compiled frames
//! (`switch_away`, `yield_now`, the scheduler's switch helper). A register
//! that one of them saves in its prologue and restores in its epilogue is
//! put back by that frame even if `goro_switch` failed to restore it, so
//! such a bug only shows here if it also breaks the runtime (a crash, which
//! fails the test too). That is always the case for x29 on AArch64, where
//! every frame saves the frame pointer: the x29 check guards the whole path
//! but cannot see a `goro_switch` that skips restoring x29 by itself.
//! `switch_away` is kept small to hide as little as possible.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Switches each goroutine makes with its registers loaded.
const ITERS: u64 = 64;

/// State shared by the goroutines of one run.
#[derive(Default)]
struct Shared {
    /// Calls of `switch_away` so far, by any goroutine of the run: a
    /// goroutine whose count moved by more than its own call across one
    /// switch knows another goroutine ran (and scribbled) in between.
    switches: AtomicU64,
    /// Failures seen where panicking is not allowed (`extern "C"` code).
    errors: Mutex<Vec<String>>,
}

/// What `switch_away` does; passed by pointer in the first argument
/// register from inside the `asm!` block.
struct Call<'a> {
    shared: &'a Shared,
    /// `None`: `yield_now`. `Some(seed)`: spawn a goroutine that runs
    /// `exercise(seed, ..)` (it starts from a fresh `init_stack` frame and
    /// scribbles its own values) and join it, which parks the caller.
    child: Option<u64>,
}

/// The function the `asm!` blocks call with every callee-saved register
/// holding a test value. It is kept small so that its own frame saves as
/// few callee-saved registers as possible: a register that a frame between
/// the asm and `goro_switch` saves and restores is restored by that frame
/// too, which would hide a context switch that fails to restore it. It
/// must not unwind (it is `extern "C"`): failures go to `Shared::errors`.
extern "C" fn switch_away(call: *const Call<'_>) {
    // SAFETY: the only caller is `arch::load_switch_read`, which passes a
    // pointer to a `Call` that lives on its caller's stack for the whole asm
    // block (and so for this call).
    let call = unsafe { &*call };
    call.shared.switches.fetch_add(1, Ordering::Relaxed);
    match call.child {
        None => goro::yield_now(),
        Some(seed) => park_on_child(call.shared, seed),
    }
}

/// Spawns a goroutine that runs `exercise(seed, ..)` and joins it (the
/// caller parks); records failures in `shared.errors` instead of panicking.
#[inline(never)]
fn park_on_child(shared: &Shared, seed: u64) {
    let child = goro::spawn(move || {
        let shared = Shared::default();
        exercise(seed, 4, &shared, None);
    });
    let outcome = match child {
        Err(e) => Some(format!("spawn of child {seed} failed: {e:?}")),
        Ok(h) => match h.join() {
            Ok(()) => None,
            Err(goro::JoinError::Panicked(p)) => {
                Some(format!("child {seed}: {}", p.message().unwrap_or("panicked with a non-string payload")))
            }
            Err(e) => Some(format!("child {seed}: {e}")),
        },
    };
    if let Some(msg) = outcome {
        shared.errors.lock().unwrap().push(msg);
    }
}

/// Runs `iters` rounds of: load this goroutine's values (`seed`, round) into
/// the callee-saved registers, switch away through `switch_away`, read them
/// back and compare. Panics naming every register that changed. Returns how
/// many rounds saw another goroutine's switch in between.
fn exercise(seed: u64, iters: u64, shared: &Shared, child: Option<u64>) -> u64 {
    let mut interleaved = 0;
    for iter in 0..iters {
        let expected = arch::values(seed, iter);
        let call = Call { shared, child: child.map(|c| c + iter) };
        let before = shared.switches.load(Ordering::Relaxed);
        let got = arch::load_switch_read(&expected, &call);
        let after = shared.switches.load(Ordering::Relaxed);
        if after - before > 1 {
            interleaved += 1;
        }
        let bad: Vec<String> = arch::NAMES
            .iter()
            .zip(arch::MASKS)
            .zip(expected.iter().zip(&got))
            .filter(|&((_, mask), (e, g))| e & mask != g & mask)
            .map(|((name, mask), (e, g))| {
                format!("  {name}: expected {:#018x}, got {:#018x} (compared bits {mask:#x})", e & mask, g & mask)
            })
            .collect();
        assert!(
            bad.is_empty(),
            "goroutine with seed {seed}, round {iter}: callee-saved state changed across a \
             goroutine switch:\n{}",
            bad.join("\n")
        );
    }
    interleaved
}

fn assert_no_errors(shared: &Shared) {
    let errors = shared.errors.lock().unwrap();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// Joins `h`, re-raising a goroutine panic (with its message) in the caller.
fn join<T>(h: goro::JoinHandle<T>) -> T {
    match h.join() {
        Ok(v) => v,
        Err(goro::JoinError::Panicked(p)) => std::panic::resume_unwind(p.into_payload()),
        Err(e) => panic!("join: {e}"),
    }
}

/// Spawns one goroutine per seed in `spawned` (each `exercise`s with its
/// seed), runs `exercise(main_seed)` on the main goroutine too if given,
/// joins them all and returns the total count of interleaved rounds.
fn run_workers(procs: usize, spawned: &'static [u64], main_seed: Option<u64>) -> u64 {
    static RT: goro::Runtime = goro::Runtime::new();
    RT.run(goro::Config::new().procs(procs), move || {
        let shared = Arc::new(Shared::default());
        let hs: Vec<_> = spawned
            .iter()
            .map(|&seed| {
                let shared = shared.clone();
                goro::spawn(move || exercise(seed, ITERS, &shared, None)).unwrap()
            })
            .collect();
        let mut total = main_seed.map_or(0, |seed| exercise(seed, ITERS, &shared, None));
        for h in hs {
            total += join(h);
        }
        assert_no_errors(&shared);
        total
    })
    .unwrap()
}

#[test]
fn two_goroutines_keep_their_callee_saved_registers_across_yield() {
    // A (seed 0) rounds toward zero; B (seed 1) rounds down (and, on
    // x86_64, uses double x87 precision), with other register values. Both
    // differ from the default control state. They alternate on the FIFO
    // run queue.
    let interleaved = run_workers(1, &[0, 1], None);
    // With one P and a FIFO queue, every round of A and all but B's last
    // see the other goroutine run in between: 2 * ITERS - 1.
    assert!(
        interleaved >= ITERS,
        "only {interleaved} of {} switches let the other goroutine run: the test did not \
         interleave A and B",
        2 * ITERS
    );
}

#[test]
fn many_goroutines_and_main_keep_their_callee_saved_registers_across_yield() {
    // Eight spawned goroutines with distinct values and control-register
    // settings (every rounding mode, flush-to-zero on and off), plus the
    // main goroutine itself.
    let interleaved = run_workers(1, &[0, 1, 2, 3, 4, 5, 6, 7], Some(8));
    assert!(interleaved >= ITERS, "only {interleaved} of {} switches let another goroutine run", 9 * ITERS);
}

#[test]
fn registers_survive_goroutines_migrating_between_threads() {
    // Two Ps: goroutines yield, get stolen and resume on other threads.
    // Interleaving is not guaranteed here (they may run in parallel), so
    // only the register checks inside `exercise` apply.
    run_workers(2, &[0, 1, 2, 3, 4, 5, 6, 7], Some(8));
}

#[test]
fn callee_saved_registers_survive_park_while_a_fresh_goroutine_runs() {
    // The asm calls spawn+join instead of yield: the caller parks, a brand
    // new goroutine starts from its initial frame, scribbles its own values
    // around its own yields, exits, and the caller is readied and resumed.
    goro::run(|| {
        let shared = Arc::new(Shared::default());
        let other = {
            let shared = shared.clone();
            goro::spawn(move || exercise(2, ITERS, &shared, None)).unwrap()
        };
        exercise(0, 16, &shared, Some(100));
        join(other);
        assert_no_errors(&shared);
    })
    .unwrap();
}

#[cfg(target_arch = "x86_64")]
mod arch {
    //! Slots: rbx, rbp, r12, r13, r14, r15, MXCSR (low 32 bits), x87 control
    //! word (low 16 bits).

    use super::{switch_away, Call};
    use core::arch::asm;

    pub const N: usize = 8;

    pub const NAMES: [&str; N] = ["rbx", "rbp", "r12", "r13", "r14", "r15", "MXCSR", "x87 control word"];

    /// Bits compared per slot. MXCSR bits 0-5 are sticky exception *flags*,
    /// which the ABI leaves caller-saved (and which code run by other
    /// goroutines may set); bits 6-15 are the control bits (DAZ, exception
    /// masks, rounding, FZ). The x87 control word is compared whole.
    pub const MASKS: [u64; N] = [!0, !0, !0, !0, !0, !0, 0xFFC0, 0xFFFF];

    /// Test values for goroutine `seed` in round `iter`: `0xA0ss_rr00_iiii_iiii`
    /// for the integer registers (unique per seed, register and round), and
    /// control words that differ between seeds. Seed 0 rounds toward zero.
    /// All floating-point exceptions stay masked.
    pub fn values(seed: u64, iter: u64) -> [u64; N] {
        let mut v = [0; N];
        for (r, slot) in v.iter_mut().enumerate().take(6) {
            *slot = 0xA000_0000_0000_0000 | (seed & 0xFF) << 48 | (r as u64 + 1) << 40 | (iter & 0xFFFF_FFFF);
        }
        // RC: 0b11 toward zero, 0b01 down, 0b10 up, 0b00 nearest (default).
        let rc = [0b11, 0b01, 0b10, 0b00][(seed % 4) as usize];
        let fz = (seed / 4) % 2;
        let daz = (seed / 8) % 2;
        v[6] = 0x1F80 | rc << 13 | fz << 15 | daz << 6;
        // Precision control: 0b10 double, 0b11 extended, 0b00 single.
        let pc = [0b10, 0b11, 0b00][(seed / 4 % 3) as usize];
        v[7] = 0x007F | pc << 8 | rc << 10;
        v
    }

    /// Loads `vals` into the registers, calls `switch_away(call)`, and
    /// returns what the registers hold after it returns.
    pub fn load_switch_read(vals: &[u64; N], call: &Call<'_>) -> [u64; N] {
        let mut out = [0u64; N];
        // SAFETY: `vals` and `out` are valid for N u64 reads/writes and
        // `call` outlives the block. The block saves rbx and rbp (LLVM's,
        // which cannot be operands) and the caller's MXCSR and x87 control
        // word on the stack and restores all four before it ends; r12-r15 are
        // declared clobbered, and `clobber_abi("C")` covers what the call
        // clobbers. The stack: `nostack` is not given, so rsp is 16-byte
        // aligned at entry and the red zone is not in use; 2 pushes + 32
        // bytes keep rsp 16-byte aligned at the `call`, and rsp is back to
        // its entry value at the end. All loaded control words keep every
        // FP exception masked. Only explicit registers are operands, so
        // none of them can be rbx/rbp.
        unsafe {
            asm!(
                "push rbx",
                "push rbp",
                "sub rsp, 32",              // [rsp] out ptr, [rsp+8] mxcsr, [rsp+12] fcw
                "mov [rsp], rdx",
                "stmxcsr [rsp + 8]",        // the caller's control words
                "fnstcw [rsp + 12]",
                "ldmxcsr [rsi + 48]",
                "fldcw [rsi + 56]",
                "mov rbx, [rsi]",
                "mov rbp, [rsi + 8]",
                "mov r12, [rsi + 16]",
                "mov r13, [rsi + 24]",
                "mov r14, [rsi + 32]",
                "mov r15, [rsi + 40]",
                "call {f}",                 // rdi = call; rsp is 16-byte aligned here
                "mov rdx, [rsp]",
                "mov [rdx], rbx",
                "mov [rdx + 8], rbp",
                "mov [rdx + 16], r12",
                "mov [rdx + 24], r13",
                "mov [rdx + 32], r14",
                "mov [rdx + 40], r15",
                "stmxcsr [rdx + 48]",
                "fnstcw [rdx + 56]",
                "ldmxcsr [rsp + 8]",
                "fldcw [rsp + 12]",
                "add rsp, 32",
                "pop rbp",
                "pop rbx",
                f = sym switch_away,
                in("rdi") core::ptr::from_ref(call),
                in("rsi") vals.as_ptr(),
                in("rdx") out.as_mut_ptr(),
                out("r12") _,
                out("r13") _,
                out("r14") _,
                out("r15") _,
                clobber_abi("C"),
            );
        }
        out
    }
}

#[cfg(target_arch = "aarch64")]
mod arch {
    //! Slots: x19-x28 (0-9), x29 (10), d8-d15 (11-18), FPCR (19).

    use super::{switch_away, Call};
    use core::arch::asm;

    pub const N: usize = 20;

    pub const NAMES: [&str; N] = [
        "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28", "x29 (fp)", "d8", "d9", "d10", "d11",
        "d12", "d13", "d14", "d15", "FPCR",
    ];

    /// Everything is compared whole: d8-d15 are the low 64 bits of v8-v15
    /// (the callee-saved part), FPCR holds control bits only.
    pub const MASKS: [u64; N] = [!0; N];

    /// Test values for goroutine `seed` in round `iter`: `0xA0ss_rr00_iiii_iiii`
    /// for x19-x29 and d8-d15 (unique per seed, register and round), and an
    /// FPCR that differs between seeds. Seed 0 rounds toward zero. No FP
    /// exception traps are enabled.
    pub fn values(seed: u64, iter: u64) -> [u64; N] {
        let mut v = [0; N];
        for (r, slot) in v.iter_mut().enumerate().take(19) {
            *slot = 0xA000_0000_0000_0000 | (seed & 0xFF) << 48 | (r as u64 + 1) << 40 | (iter & 0xFFFF_FFFF);
        }
        // RMode: 0b11 RZ (toward zero), 0b10 RM (down), 0b01 RP (up), 0b00 RN.
        let rmode = [0b11, 0b10, 0b01, 0b00][(seed % 4) as usize];
        let fz = (seed / 4) % 2;
        let dn = (seed / 8) % 2;
        v[19] = rmode << 22 | fz << 24 | dn << 25;
        v
    }

    /// Loads `vals` into the registers, calls `switch_away(call)`, and
    /// returns what the registers hold after it returns.
    pub fn load_switch_read(vals: &[u64; N], call: &Call<'_>) -> [u64; N] {
        let mut out = [0u64; N];
        // SAFETY: `vals` and `out` are valid for N u64 reads/writes and
        // `call` outlives the block. The block saves x19 and x29 (LLVM's
        // base and frame pointers, which cannot be operands) and the
        // caller's FPCR on the stack and restores them before it ends;
        // x20-x28 are declared clobbered, and `clobber_abi("C")` covers x30
        // and all of v0-v31 (so d8-d15 too). sp moves by 48 (a multiple of
        // 16, so it stays 16-byte aligned at the `bl`) and is back at its
        // entry value at the end. x18 is never touched. The loaded FPCR
        // values enable no exception traps. Only explicit registers are
        // operands, and scratch x9-x11 are none of them.
        unsafe {
            asm!(
                "sub sp, sp, #48",          // [sp] x19, x29; [sp+16] out ptr; [sp+24] fpcr
                "stp x19, x29, [sp]",
                "mrs x9, fpcr",
                "stp x2, x9, [sp, #16]",
                "ldr x9, [x1, #152]",
                "msr fpcr, x9",
                "ldp x19, x20, [x1, #0]",
                "ldp x21, x22, [x1, #16]",
                "ldp x23, x24, [x1, #32]",
                "ldp x25, x26, [x1, #48]",
                "ldp x27, x28, [x1, #64]",
                "ldr x29, [x1, #80]",
                "ldp x9, x10, [x1, #88]",
                "fmov d8, x9",
                "fmov d9, x10",
                "ldp x9, x10, [x1, #104]",
                "fmov d10, x9",
                "fmov d11, x10",
                "ldp x9, x10, [x1, #120]",
                "fmov d12, x9",
                "fmov d13, x10",
                "ldp x9, x10, [x1, #136]",
                "fmov d14, x9",
                "fmov d15, x10",
                "bl {f}",                   // x0 = call
                "ldr x9, [sp, #16]",
                "stp x19, x20, [x9, #0]",
                "stp x21, x22, [x9, #16]",
                "stp x23, x24, [x9, #32]",
                "stp x25, x26, [x9, #48]",
                "stp x27, x28, [x9, #64]",
                "str x29, [x9, #80]",
                "fmov x10, d8",
                "fmov x11, d9",
                "stp x10, x11, [x9, #88]",
                "fmov x10, d10",
                "fmov x11, d11",
                "stp x10, x11, [x9, #104]",
                "fmov x10, d12",
                "fmov x11, d13",
                "stp x10, x11, [x9, #120]",
                "fmov x10, d14",
                "fmov x11, d15",
                "stp x10, x11, [x9, #136]",
                "mrs x10, fpcr",
                "str x10, [x9, #152]",
                "ldr x10, [sp, #24]",
                "msr fpcr, x10",
                "ldp x19, x29, [sp]",
                "add sp, sp, #48",
                f = sym switch_away,
                in("x0") core::ptr::from_ref(call),
                in("x1") vals.as_ptr(),
                in("x2") out.as_mut_ptr(),
                out("x20") _,
                out("x21") _,
                out("x22") _,
                out("x23") _,
                out("x24") _,
                out("x25") _,
                out("x26") _,
                out("x27") _,
                out("x28") _,
                clobber_abi("C"),
            );
        }
        out
    }
}
