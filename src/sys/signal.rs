//! Signal handling by raw system call: `rt_sigaction`, `sigaltstack`,
//! `exit_group` and self-abort. rustix keeps these private, so they go
//! through `arch::goro_syscall5`.
#![allow(unsafe_code)]

use super::check;
use crate::arch::{goro_syscall5, sigreturn_addr};
use linux_raw_sys::general as k;

/// The kernel's `struct sigaction` (x86_64 and aarch64 share it).
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct KernelSigaction {
    pub handler: usize,
    pub flags: u64,
    pub restorer: usize,
    pub mask: u64,
}

impl KernelSigaction {
    const fn zeroed() -> Self {
        KernelSigaction { handler: 0, flags: 0, restorer: 0, mask: 0 }
    }
}

/// The kernel's `stack_t`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct SigStack {
    pub sp: usize,
    pub flags: i32,
    pub size: usize,
}

/// Signature of an `SA_SIGINFO` handler.
pub(crate) type Handler = unsafe extern "C" fn(sig: i32, info: *mut u8, ucontext: *mut u8);

/// Offset of `si_addr` in `siginfo_t` on 64-bit Linux (after si_signo,
/// si_errno, si_code and padding).
pub(crate) const SI_ADDR_OFFSET: usize = 16;

pub(crate) const SIGSEGV: i32 = k::SIGSEGV as i32;
#[cfg_attr(not(feature = "freestanding"), allow(dead_code))]
pub(crate) const SIGPIPE: i32 = k::SIGPIPE as i32;

/// Installs `handler` for `sig` with `SA_SIGINFO | SA_ONSTACK`, all other
/// signals unblocked while it runs, and returns the action it replaced.
#[doc(alias = "rt_sigaction")]
pub(crate) fn install(sig: i32, handler: Handler) -> Result<KernelSigaction, crate::Error> {
    let new = KernelSigaction {
        handler: handler as usize,
        flags: (k::SA_SIGINFO | k::SA_ONSTACK | k::SA_RESTORER) as u64,
        restorer: sigreturn_addr(),
        mask: 0,
    };
    let mut old = KernelSigaction::zeroed();
    restore_action(sig, &new, Some(&mut old))?;
    Ok(old)
}

/// Sets the action for `sig` to `act` (e.g. one returned by [`install`]),
/// optionally storing the one it replaces in `old`.
#[doc(alias = "rt_sigaction")]
pub(crate) fn restore_action(
    sig: i32,
    act: &KernelSigaction,
    old: Option<&mut KernelSigaction>,
) -> Result<(), crate::Error> {
    let old_ptr = old.map_or(0, |o| o as *mut KernelSigaction as usize);
    let nr = k::__NR_rt_sigaction as usize;
    // SAFETY: rt_sigaction reads one KernelSigaction from `act` (a valid reference) and writes one to `old_ptr` if
    // non-null (a valid exclusive reference); sigsetsize 8 matches the 64-bit mask field.
    let r = unsafe { goro_syscall5(nr, sig as usize, act as *const _ as usize, old_ptr, 8, 0) };
    check(r).map(|_| ())
}

/// Resets `sig` to its default action.
pub(crate) fn reset_default(sig: i32) {
    let _ = restore_action(sig, &KernelSigaction::zeroed(), None);
}

/// Sets `sig` to be ignored (`SIG_IGN`) and returns the handler word it
/// had (0 = `SIG_DFL`, 1 = `SIG_IGN`, else a handler's address).
#[cfg_attr(not(feature = "freestanding"), allow(dead_code))]
pub(crate) fn ignore(sig: i32) -> Result<usize, crate::Error> {
    let ign = KernelSigaction { handler: 1, ..KernelSigaction::zeroed() };
    let mut old = KernelSigaction::zeroed();
    restore_action(sig, &ign, Some(&mut old))?;
    Ok(old.handler)
}

/// Returns the calling thread's alternate signal stack.
#[doc(alias = "sigaltstack")]
pub(crate) fn current_altstack() -> SigStack {
    let mut old = SigStack { sp: 0, flags: k::SS_DISABLE as i32, size: 0 };
    // SAFETY: a null new stack only queries; `old` is a valid exclusive
    // reference to a stack_t-sized struct.
    let r = unsafe { goro_syscall5(k::__NR_sigaltstack as usize, 0, &mut old as *mut _ as usize, 0, 0, 0) };
    let _ = check(r);
    old
}

/// Sets the calling thread's alternate signal stack.
///
/// # Safety
///
/// `[sp, sp + size)` must stay mapped, writable and otherwise unused for as
/// long as it is installed (or `flags` is `SS_DISABLE`).
#[doc(alias = "sigaltstack")]
pub(crate) unsafe fn set_altstack(st: &SigStack) -> Result<(), crate::Error> {
    // SAFETY: the kernel reads one stack_t from a valid reference; the
    // memory it names is the caller's responsibility (see above).
    let r = unsafe { goro_syscall5(k::__NR_sigaltstack as usize, st as *const _ as usize, 0, 0, 0, 0) };
    check(r).map(|_| ())
}

/// Whether an alternate stack struct describes a disabled stack.
pub(crate) fn altstack_disabled(st: &SigStack) -> bool {
    st.flags & k::SS_DISABLE as i32 != 0 || st.size == 0
}

/// `SS_DISABLE`, for building a "no alternate stack" descriptor.
pub(crate) const SS_DISABLE: i32 = k::SS_DISABLE as i32;

/// Ends the process the way `abort()` does: SIGABRT with its default
/// action, sent to the calling thread so it is delivered before this
/// returns, and the exit status says "killed by SIGABRT" (134 in a shell).
/// Falls back to `exit_group(134)` if the signal somehow does not end it.
pub(crate) fn abort() -> ! {
    let sig = k::SIGABRT as usize;
    reset_default(sig as i32);
    let unblock: u64 = 1 << (sig - 1);
    let pid = rustix::process::getpid().as_raw_nonzero().get() as usize;
    let tid = rustix::thread::gettid().as_raw_nonzero().get() as usize;
    // SAFETY: rt_sigprocmask reads one 8-byte mask from a valid reference;
    // tgkill takes no pointers.
    unsafe {
        goro_syscall5(
            k::__NR_rt_sigprocmask as usize,
            k::SIG_UNBLOCK as usize,
            &unblock as *const u64 as usize,
            0,
            8,
            0,
        );
        goro_syscall5(k::__NR_tgkill as usize, pid, tid, sig, 0, 0);
    }
    exit_group(134)
}

/// Ends every thread of the process with `code`.
pub(crate) fn exit_group(code: i32) -> ! {
    // SAFETY: exit_group takes no pointers and does not return.
    unsafe { goro_syscall5(k::__NR_exit_group as usize, code as usize, 0, 0, 0, 0) };
    // SAFETY: exit_group never returns; reaching here is impossible.
    unsafe { core::hint::unreachable_unchecked() }
}
