//! Guarded goroutine stacks in one reserved region, and the stack-overflow
//! handler.
//!
//! The region is `count` slots of `1 << shift` bytes, mapped with
//! `MAP_NORESERVE` (pages cost memory only once touched). Slot `i` belongs
//! to goroutine arena slot `i`:
//!
//! ```text
//!  slot base                                              slot base + size
//!  | guard page | stack, grows down <-  | spawn packet | (next slot)
//! ```
//!
//! Where the kernel has guard regions (`MADV_GUARD_INSTALL`, Linux 6.13)
//! the region is mapped read-write and a slot's first use installs its
//! guard page as a guard region: the whole region stays one kernel memory
//! mapping. Elsewhere (older kernels, qemu-user) it is reserved `PROT_NONE`
//! and a slot's first use makes its stack pages writable with `mprotect`,
//! which leaves the guard page a `PROT_NONE` hole: two mappings per slot,
//! so `vm.max_map_count` (65530 by default) caps the slots ever used at
//! about 32,000. Either way stack pages stay writable once used and the
//! guard page faults on any access.
//!
//! Because slots are aligned to their size, the running goroutine's index
//! is `(sp - base) >> shift`: no thread-local storage is needed, on any
//! thread.
//!
//! A goroutine that overflows touches its guard page. The SIGSEGV handler
//! (on an alternate signal stack) recognises the address, prints which
//! goroutine overflowed, and aborts. Faults anywhere else are passed on to
//! whatever handler was installed before goro's.
//!
//! # Safety
//!
//! The handler runs in signal context: it only reads atomics, formats into a
//! stack buffer and makes raw system calls. It reads `si_addr` from the
//! `siginfo_t` the kernel passes.
#![allow(unsafe_code)]

use crate::sys::{self, signal};
use crate::Error;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Geometry of the live stack region (at most one runtime runs at a time).
pub(crate) struct Region {
    base: AtomicUsize,
    shift: AtomicU32,
    count: AtomicUsize,
    guard: AtomicUsize,
    /// Where goroutine ids are read from, by the signal handler: the base of
    /// the goroutine arena's slots and the stride between them.
    goid_of: AtomicUsize,
    /// Bumped each time a new region replaces the old one (0: none yet).
    generation: AtomicU64,
    /// The region is mapped read-write and a slot's guard page is a guard
    /// region (`MADV_GUARD_INSTALL`), not a `PROT_NONE` hole.
    guard_regions: AtomicBool,
}

pub(crate) static REGION: Region = Region::new();

impl Region {
    /// No region yet (`setup` maps one).
    const fn new() -> Self {
        Region {
            base: AtomicUsize::new(0),
            shift: AtomicU32::new(0),
            count: AtomicUsize::new(0),
            guard: AtomicUsize::new(0),
            goid_of: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            guard_regions: AtomicBool::new(false),
        }
    }

    /// Reserves address space for `count` slots of `slot_size` bytes (a
    /// power of two), reusing the current reservation if it matches.
    pub(crate) fn setup(&self, count: usize, slot_size: usize, goid_of: fn(usize) -> u64) -> Result<bool, Error> {
        debug_assert!(slot_size.is_power_of_two());
        let shift = slot_size.trailing_zeros();
        let base = self.base.load(Ordering::Acquire);
        if base != 0 && self.shift.load(Ordering::Relaxed) == shift && self.count.load(Ordering::Relaxed) == count {
            return Ok(false);
        }
        const TOO_BIG: Error = Error::InvalidConfig("stack region overflows the address space");
        let len = count.checked_mul(slot_size).ok_or(TOO_BIG)?;
        // Over-reserve by one slot so the base can be aligned to the slot size.
        let total = len.checked_add(slot_size).ok_or(TOO_BIG)?;
        // With guard regions the whole region is one read-write mapping (a
        // strict overcommit policy may refuse one that large: then fall back).
        let rw = if sys::guard_regions_work() { sys::reserve_rw(total).ok() } else { None };
        let guard_regions = rw.is_some();
        let raw = match rw {
            Some(raw) => raw,
            None => sys::reserve(total).map_err(|e| match e {
                Error::Os(12) => Error::InvalidConfig(
                    "the goroutine stack region (MAX_GOROUTINES + 64 slots of Config::stack_size) could not be \
                     reserved (ENOMEM): lower one of them, or raise the address-space limit",
                ),
                e => e,
            })?,
        };
        let aligned = (raw + slot_size - 1) & !(slot_size - 1);
        if base != 0 {
            let old_len = self.count.load(Ordering::Relaxed) << self.shift.load(Ordering::Relaxed);
            self.base.store(0, Ordering::Release);
            // SAFETY: no goroutine runs (run() holds the runtime lock and the
            // previous run abandoned its goroutines); the old region is ours.
            unsafe { sys::unmap(base, old_len) };
        }
        self.shift.store(shift, Ordering::Relaxed);
        self.count.store(count, Ordering::Relaxed);
        self.guard.store(sys::page_size(), Ordering::Relaxed);
        self.goid_of.store(goid_of as usize, Ordering::Relaxed);
        self.guard_regions.store(guard_regions, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::Relaxed);
        self.base.store(aligned, Ordering::Release);
        Ok(true)
    }

    /// Which region is in place: a runtime's record of which of its slots
    /// are committed holds only for the generation it was made in (another
    /// runtime with another layout may have replaced the region since, and
    /// a third with this layout replaced it again).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Index of the slot containing `addr`, if any.
    #[inline]
    pub(crate) fn index_of(&self, addr: usize) -> Option<usize> {
        let base = self.base.load(Ordering::Relaxed);
        let i = addr.wrapping_sub(base) >> self.shift.load(Ordering::Relaxed);
        (base != 0 && i < self.count.load(Ordering::Relaxed)).then_some(i)
    }

    /// Lowest address of slot `i`.
    #[inline]
    pub(crate) fn slot_base(&self, i: usize) -> usize {
        self.base.load(Ordering::Relaxed) + (i << self.shift.load(Ordering::Relaxed))
    }

    /// Bytes per slot.
    #[inline]
    pub(crate) fn slot_size(&self) -> usize {
        1 << self.shift.load(Ordering::Relaxed)
    }

    /// Usable stack bytes per slot (slot minus guard page).
    pub(crate) fn usable(&self) -> usize {
        self.slot_size() - self.guard.load(Ordering::Relaxed)
    }

    /// Readies slot `i` for its first use: installs its guard page as a
    /// guard region (the stack is already writable), or, without guard
    /// regions, makes the stack writable (the guard page stays PROT_NONE).
    pub(crate) fn commit(&self, i: usize) -> Result<(), Error> {
        let guard = self.guard.load(Ordering::Relaxed);
        if self.guard_regions.load(Ordering::Relaxed) {
            // SAFETY: the range is slot i's first page, inside the read-write region mapped by `setup`; slot i
            // belongs to a goroutine (or M) about to start, so nothing uses it.
            return unsafe { sys::install_guard(self.slot_base(i), guard) };
        }
        // SAFETY: the range is slot i minus its guard page, inside the region reserved by `setup`; slot i belongs to
        // a goroutine being spawned, so no one runs on it.
        unsafe { sys::make_rw(self.slot_base(i) + guard, self.slot_size() - guard) }
    }

    /// Whether the live region guards its slots with guard regions (one
    /// kernel mapping in all) rather than `PROT_NONE` pages (two per slot).
    pub(crate) fn uses_guard_regions(&self) -> bool {
        self.guard_regions.load(Ordering::Relaxed)
    }

    /// The goroutine whose guard page contains `addr`, if any.
    fn guard_hit(&self, addr: usize) -> Option<usize> {
        let i = self.index_of(addr)?;
        (addr - self.slot_base(i) < self.guard.load(Ordering::Relaxed)).then_some(i)
    }
}

// ---- the overflow handler ----

static INSTALLED: AtomicBool = AtomicBool::new(false);
/// The SIGSEGV action that was in place before goro's, as raw words.
static PREV: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];

/// Installs the SIGSEGV handler once per process (it stays installed; it
/// only acts on faults inside goroutine guard pages).
pub(crate) fn install_overflow_handler() -> Result<(), Error> {
    if INSTALLED.swap(true, Ordering::AcqRel) {
        return Ok(());
    }
    let old = signal::install(signal::SIGSEGV, on_segv)?;
    PREV[0].store(old.handler, Ordering::Relaxed);
    PREV[1].store(old.flags as usize, Ordering::Relaxed);
    PREV[2].store(old.restorer, Ordering::Relaxed);
    PREV[3].store(old.mask as usize, Ordering::Release);
    Ok(())
}

const SIG_DFL: usize = 0;
const SIG_IGN: usize = 1;

unsafe extern "C" fn on_segv(sig: i32, info: *mut u8, ctx: *mut u8) {
    // SAFETY: the kernel passes a valid siginfo_t for SA_SIGINFO handlers;
    // si_addr is a pointer-sized field at SI_ADDR_OFFSET.
    let addr = unsafe { info.add(signal::SI_ADDR_OFFSET).cast::<usize>().read_unaligned() };
    if let Some(i) = REGION.guard_hit(addr) {
        report_overflow(i, addr);
    }
    // Not ours: hand the fault to the previous handler.
    let prev = signal::KernelSigaction {
        handler: PREV[0].load(Ordering::Acquire),
        flags: PREV[1].load(Ordering::Relaxed) as u64,
        restorer: PREV[2].load(Ordering::Relaxed),
        mask: PREV[3].load(Ordering::Relaxed) as u64,
    };
    match prev.handler {
        SIG_DFL | SIG_IGN => {
            // Returning re-executes the faulting instruction, which now
            // gets the default action (core dump / kill by SIGSEGV).
            signal::reset_default(sig);
        }
        h if prev.flags & linux_raw_sys::general::SA_SIGINFO as u64 != 0 => {
            // SAFETY: the previous owner installed `h` as an SA_SIGINFO handler for this signal; we call it with the
            // kernel's own arguments, as the kernel would have.
            let f: signal::Handler = unsafe { core::mem::transmute::<usize, signal::Handler>(h) };
            // SAFETY: see above.
            unsafe { f(sig, info, ctx) };
        }
        h => {
            // SAFETY: a non-SA_SIGINFO handler takes the signal number only.
            let f: extern "C" fn(i32) = unsafe { core::mem::transmute::<usize, extern "C" fn(i32)>(h) };
            f(sig);
        }
    }
}

/// Prints "goro: goroutine N stack overflow ..." and aborts. Signal-safe.
fn report_overflow(i: usize, addr: usize) -> ! {
    let goid_of = REGION.goid_of.load(Ordering::Relaxed);
    let goid = if goid_of != 0 {
        // SAFETY: `goid_of` was stored from a `fn(usize) -> u64` in `setup`.
        let f = unsafe { core::mem::transmute::<usize, fn(usize) -> u64>(goid_of) };
        f(i)
    } else {
        0
    };
    let mut buf = Buf { b: [0; 256], n: 0 };
    let _ = core::fmt::write(
        &mut buf,
        format_args!(
            "goro: goroutine {goid} stack overflow (fault at {addr:#x} in the guard page of stack slot {i}; \
             usable stack {} bytes: raise goro::Config::stack_size)\n",
            REGION.usable()
        ),
    );
    sys::write_stderr(&buf.b[..buf.n]);
    signal::abort()
}

/// A fixed buffer for formatting in signal context.
struct Buf {
    b: [u8; 256],
    n: usize,
}

impl core::fmt::Write for Buf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = self.b.len() - self.n;
        let k = s.len().min(room);
        self.b[self.n..self.n + k].copy_from_slice(&s.as_bytes()[..k]);
        self.n += k;
        Ok(())
    }
}

/// An alternate signal stack for one thread, so the overflow handler can run
/// when the thread's own stack is exhausted.
pub(crate) struct AltStack {
    /// The stack we installed (0 if the thread already had one).
    mine: usize,
}

const ALTSTACK_SIZE: usize = 64 * 1024;

impl AltStack {
    /// Gives the calling thread an alternate signal stack unless it has one.
    pub(crate) fn ensure() -> Result<AltStack, Error> {
        if !signal::altstack_disabled(&signal::current_altstack()) {
            return Ok(AltStack { mine: 0 });
        }
        let page = sys::page_size();
        let base = sys::reserve(ALTSTACK_SIZE + page)?;
        // SAFETY: [base + page, base + page + ALTSTACK_SIZE) lies inside the mapping just reserved, which nothing
        // else uses; base's first page stays PROT_NONE as a guard.
        unsafe { sys::make_rw(base + page, ALTSTACK_SIZE) }?;
        let st = signal::SigStack { sp: base + page, flags: 0, size: ALTSTACK_SIZE };
        // SAFETY: the stack is mapped, writable and only used by the kernel
        // for this thread's signal frames until `drop` uninstalls it.
        unsafe { signal::set_altstack(&st) }?;
        Ok(AltStack { mine: base })
    }
}

impl Drop for AltStack {
    fn drop(&mut self) {
        if self.mine != 0 {
            let off = signal::SigStack { sp: 0, flags: signal::SS_DISABLE, size: 0 };
            // SAFETY: disabling takes no memory.
            let _ = unsafe { signal::set_altstack(&off) };
            // SAFETY: the alternate stack is no longer installed and we are
            // not running on it (drop runs on the thread's normal stack).
            unsafe { sys::unmap(self.mine, ALTSTACK_SIZE + sys::page_size()) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A layout whose size (plus the alignment slot) passes the end of the
    /// address space is a configuration error, and leaves the region alone.
    #[test]
    fn region_larger_than_the_address_space_is_an_error() {
        let r = Region::new();
        let slot = 1usize << 30;
        // count * slot fits in usize, count * slot + slot does not.
        let count = usize::MAX / slot;
        assert!(count.checked_mul(slot).is_some());
        for c in [count, usize::MAX] {
            assert!(matches!(r.setup(c, slot, |_| 0), Err(Error::InvalidConfig(_))), "count {c}");
        }
        assert_eq!((r.base.load(Ordering::Relaxed), r.generation()), (0, 0));
    }
}
