//! Fixed-capacity slots with generation-tagged handles.
//!
//! An [`Arena`] holds `N` slots of `T` inline, so it can live in a `static`
//! (built by a `const fn`, no heap). Slots are handed out by [`RawArena::alloc`]
//! and given back by [`RawArena::free`]; they are never dropped or returned to
//! the system, only reused. Each free bumps the slot's generation, so a
//! [`Handle`] kept past its slot's reuse no longer resolves: code that holds an
//! old handle (an epoll event, a timer, a join handle) sees `None` instead of
//! someone else's object. Slot memory is type-stable for the life of the
//! program, which is what lets the kernel or another thread refer to a slot
//! that has just been freed without any use-after-free.
//!
//! Allocation takes the most recently freed slot first (warm in cache), and
//! otherwise the next never-used slot, so constructing an arena costs nothing
//! at run time and untouched slots stay untouched pages.
//!
//! # Safety
//!
//! [`ArenaCell`] keeps a `RawArena<'static, T>` in atomics (so a runtime
//! can install its arena into a `static` at start-up) and rebuilds the
//! slice from its parts: the only `unsafe` here.
#![allow(unsafe_code)]

use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering};
use spin::Mutex;

/// A generation-tagged reference to an arena slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Handle {
    index: u32,
    gen: u32,
}

impl Handle {
    /// Slot index, below the arena's capacity.
    pub fn index(self) -> usize {
        self.index as usize
    }
    /// Generation of the slot when the handle was made.
    pub fn generation(self) -> u32 {
        self.gen
    }
    /// Packs the handle in one word (index in the low half), e.g. for an
    /// epoll data word.
    pub fn to_u64(self) -> u64 {
        (u64::from(self.gen) << 32) | u64::from(self.index)
    }
    /// Inverse of [`Handle::to_u64`]. The result may be stale; resolving it
    /// through the arena checks that.
    pub fn from_u64(v: u64) -> Handle {
        Handle { index: v as u32, gen: (v >> 32) as u32 }
    }
}

/// One slot: its value plus bookkeeping.
pub struct Slot<T> {
    /// Bumped on every free; odd while allocated, even while free.
    gen: AtomicU32,
    /// Next free slot index + 1 (0 = end of list); guarded by the free-list lock.
    next_free: AtomicU32,
    value: T,
}

impl<T> Slot<T> {
    /// A free slot holding `value`.
    pub const fn new(value: T) -> Self {
        Slot { gen: AtomicU32::new(0), next_free: AtomicU32::new(0), value }
    }
}

/// Free-list head and high-water mark, guarded by one lock.
pub struct FreeList {
    /// Most recently freed slot index + 1 (0 = empty).
    head: u32,
    /// Slots `[0, fresh)` have been handed out at least once.
    fresh: u32,
    /// Slots currently allocated.
    live: u32,
}

/// Shared state of an arena apart from its slots.
pub struct ArenaHead {
    free: Mutex<FreeList>,
}

impl ArenaHead {
    /// An empty head (every slot free).
    pub const fn new() -> Self {
        ArenaHead { free: Mutex::new(FreeList { head: 0, fresh: 0, live: 0 }) }
    }
}

impl Default for ArenaHead {
    fn default() -> Self {
        Self::new()
    }
}

/// `N` slots of `T` stored inline: place it in a `static`.
pub struct Arena<T, const N: usize> {
    head: ArenaHead,
    slots: [Slot<T>; N],
}

impl<T, const N: usize> Arena<T, N> {
    /// An arena whose slots are built by `init` at compile time.
    pub const fn new(slots: [Slot<T>; N]) -> Self {
        assert!(N < u32::MAX as usize, "goro: arena: capacity must fit in u32");
        Arena { head: ArenaHead::new(), slots }
    }

    /// The head and the slots, for building a [`RawArena`] elsewhere.
    pub fn parts(&self) -> (&ArenaHead, &[Slot<T>]) {
        (&self.head, &self.slots)
    }

    /// A capacity-erased view, so code above need not be generic over `N`.
    pub fn raw(&self) -> RawArena<'_, T> {
        RawArena { head: &self.head, slots: &self.slots }
    }
}

/// An arena seen through slices: what the runtime passes around.
pub struct RawArena<'a, T> {
    head: &'a ArenaHead,
    slots: &'a [Slot<T>],
}

impl<T> Clone for RawArena<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for RawArena<'_, T> {}

/// The arena has no free slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full {
    /// The arena's capacity.
    pub capacity: usize,
}

impl<'a, T> RawArena<'a, T> {
    /// Builds a view from its parts.
    pub fn from_parts(head: &'a ArenaHead, slots: &'a [Slot<T>]) -> Self {
        RawArena { head, slots }
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Number of slots ever handed out (the rest were never touched).
    pub fn touched(&self) -> usize {
        self.head.free.lock().fresh as usize
    }

    /// Number of allocated slots.
    pub fn live(&self) -> usize {
        self.head.free.lock().live as usize
    }

    /// Takes a free slot: the most recently freed one, else a never-used one.
    pub fn alloc(&self) -> Result<(Handle, &'a T), Full> {
        let index = {
            let mut f = self.head.free.lock();
            let index = if f.head != 0 {
                let i = f.head - 1;
                f.head = self.slots[i as usize].next_free.load(Ordering::Relaxed);
                i
            } else if (f.fresh as usize) < self.slots.len() {
                f.fresh += 1;
                f.fresh - 1
            } else {
                return Err(Full { capacity: self.slots.len() });
            };
            f.live += 1;
            index
        };
        let slot = &self.slots[index as usize];
        // Even -> odd: allocated. Only the allocator writes gen here, and the
        // slot was exclusively ours once it left the free list.
        // A load and a store, not a read-modify-write: nobody else writes it.
        let gen = slot.gen.load(Ordering::Relaxed).wrapping_add(1);
        slot.gen.store(gen, Ordering::Release);
        debug_assert!(gen % 2 == 1, "goro: arena: allocated a live slot");
        Ok((Handle { index, gen }, &slot.value))
    }

    /// Returns a slot to the free list; its handles stop resolving.
    /// Freeing a stale handle is an invariant violation and aborts.
    pub fn free(&self, h: Handle) {
        let slot = &self.slots[h.index as usize];
        if slot.gen.compare_exchange(h.gen, h.gen.wrapping_add(1), Ordering::AcqRel, Ordering::Relaxed).is_err() {
            crate::fatal("goro: arena: free of a stale handle");
        }
        let mut f = self.head.free.lock();
        slot.next_free.store(f.head, Ordering::Relaxed);
        f.head = h.index + 1;
        f.live -= 1;
    }

    /// The slot a handle names, if the handle is still current.
    pub fn get(&self, h: Handle) -> Option<&'a T> {
        let slot = self.slots.get(h.index as usize)?;
        (slot.gen.load(Ordering::Acquire) == h.gen).then_some(&slot.value)
    }

    /// The slot at `index` whatever its state (for code that owns the slot by
    /// construction, such as the goroutine running on it).
    pub fn at(&self, index: usize) -> &'a T {
        &self.slots[index].value
    }

    /// The current handle of the slot at `index`, if it is allocated.
    pub fn handle_at(&self, index: usize) -> Option<Handle> {
        let gen = self.slots.get(index)?.gen.load(Ordering::Acquire);
        (gen % 2 == 1).then_some(Handle { index: index as u32, gen })
    }

    /// Frees every slot at once (the arena's owner knows nothing uses them).
    pub fn reset(&self) {
        let mut f = self.head.free.lock();
        for s in &self.slots[..f.fresh as usize] {
            let g = s.gen.load(Ordering::Relaxed);
            if g % 2 == 1 {
                s.gen.store(g.wrapping_add(1), Ordering::Release);
            }
        }
        // Rebuild the free list so the lowest indices are taken first again.
        f.head = 0;
        for i in (0..f.fresh).rev() {
            self.slots[i as usize].next_free.store(f.head, Ordering::Relaxed);
            f.head = i + 1;
        }
        f.live = 0;
    }
}

/// A `RawArena<'static, T>` that can be installed into a `static` and read
/// back without locks.
pub struct ArenaCell<T> {
    head: AtomicPtr<ArenaHead>,
    slots: AtomicPtr<Slot<T>>,
    len: AtomicUsize,
}

impl<T> ArenaCell<T> {
    /// An empty cell.
    pub const fn new() -> Self {
        ArenaCell {
            head: AtomicPtr::new(core::ptr::null_mut()),
            slots: AtomicPtr::new(core::ptr::null_mut()),
            len: AtomicUsize::new(0),
        }
    }

    /// Installs `arena`. Readers that run after this (ordered by the
    /// release store, e.g. goroutines started later) see it.
    pub fn set(&self, arena: RawArena<'static, T>) {
        self.slots.store(arena.slots.as_ptr() as *mut Slot<T>, Ordering::Relaxed);
        // Release: `at` reads `len` first (acquire), then `slots`.
        self.len.store(arena.slots.len(), Ordering::Release);
        self.head.store(arena.head as *const ArenaHead as *mut ArenaHead, Ordering::Release);
    }

    /// Whether an arena was installed.
    pub fn is_set(&self) -> bool {
        !self.head.load(Ordering::Acquire).is_null()
    }

    /// The value of slot `index` of the installed arena, whatever its state
    /// (as [`RawArena::at`]), in two loads and a bounds check: the
    /// scheduler's hot paths look goroutines up by index many times per
    /// switch. Aborts if no arena is installed (`len` is then 0) or `index`
    /// is out of range.
    #[inline]
    pub fn at(&self, index: usize) -> &'static T {
        let len = self.len.load(Ordering::Acquire);
        if index >= len {
            bad_index(len);
        }
        let slots = self.slots.load(Ordering::Relaxed);
        // SAFETY: `set` stored `slots` before its release store of `len`, which our acquire load saw, and they
        // describe a `&'static [Slot<T>]` of `len` slots that is never freed; `index < len`.
        unsafe { &(*slots.add(index)).value }
    }

    /// As [`at`](Self::at), but `None` where `at` would abort.
    #[inline]
    pub fn try_at(&self, index: usize) -> Option<&'static T> {
        let len = self.len.load(Ordering::Acquire);
        if index >= len {
            return None;
        }
        let slots = self.slots.load(Ordering::Relaxed);
        // SAFETY: as in `at`: `slots` and `len` describe the installed `&'static` slots, and `index < len`.
        Some(unsafe { &(*slots.add(index)).value })
    }

    /// The installed arena. Aborts if none was installed.
    #[inline]
    pub fn get(&self) -> RawArena<'static, T> {
        let head = self.head.load(Ordering::Acquire);
        if head.is_null() {
            crate::fatal("goro: arena: used before the runtime started");
        }
        let slots = self.slots.load(Ordering::Relaxed);
        let len = self.len.load(Ordering::Relaxed);
        // Installs happen only while no goroutine runs (under the runtime lock); slots are never freed.
        // SAFETY: `set` stored these from a `RawArena<'static, T>` (`&'static` head, `len` `&'static` slots); seeing
        // `head` (acquire) means seeing the `slots` and `len` stored before its release.
        unsafe { RawArena { head: &*head, slots: core::slice::from_raw_parts(slots, len) } }
    }
}

#[cold]
#[inline(never)]
fn bad_index(len: usize) -> ! {
    if len == 0 {
        crate::fatal("goro: arena: used before the runtime started");
    }
    crate::fatal("goro: arena: slot index out of range")
}

impl<T> Default for ArenaCell<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static A: Arena<AtomicU32, 3> = Arena::new([const { Slot::new(AtomicU32::new(0)) }; 3]);

    #[test]
    fn exhaustion_reuse_and_stale_handles() {
        let a = A.raw();
        let (h0, _) = a.alloc().unwrap();
        let (h1, v1) = a.alloc().unwrap();
        let (h2, _) = a.alloc().unwrap();
        assert_eq!((h0.index(), h1.index(), h2.index()), (0, 1, 2));
        assert_eq!(a.alloc().unwrap_err(), Full { capacity: 3 });
        v1.store(7, Ordering::Relaxed);
        a.free(h1);
        assert!(a.get(h1).is_none(), "a freed handle must not resolve");
        let (h1b, v1b) = a.alloc().unwrap();
        assert_eq!(h1b.index(), 1, "the freed slot is reused");
        assert_ne!(h1b, h1, "with a new generation");
        assert_eq!(v1b.load(Ordering::Relaxed), 7, "slot memory is type-stable");
        assert_eq!(Handle::from_u64(h1b.to_u64()), h1b);
        assert_eq!(a.live(), 3);
        a.reset();
        assert_eq!(a.live(), 0);
        assert!(a.get(h0).is_none());
        assert_eq!(a.alloc().unwrap().0.index(), 0);
    }
}
