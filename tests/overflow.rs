//! Stack overflow ends the process with a clear message; faults elsewhere
//! go to the handler that was there before goro's.
//!
//! Each case re-runs this test binary as a child process with
//! `GORO_CHILD=<case>`; the child does the dangerous thing, the parent
//! checks how it died.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

fn child_case() -> Option<String> {
    std::env::var("GORO_CHILD").ok()
}

#[inline(never)]
#[allow(unconditional_recursion)] // it ends by overflowing the stack, on purpose
fn recurse(depth: u64, buf: &mut [u8; 512]) -> u64 {
    let mut local = [0u8; 512];
    local[depth as usize % 512] = buf[depth as usize % 512].wrapping_add(1);
    // black_box keeps the frame and the recursion from being optimised away.
    std::hint::black_box(&mut local);
    recurse(depth + 1, &mut local) + u64::from(local[0])
}

fn run_child(case: &str, test: &str) -> std::process::Output {
    let exe = std::env::current_exe().unwrap();
    let args = [test, "--exact", "--nocapture", "--test-threads=1"];
    let run = |mut c: Command| c.env("GORO_CHILD", case).env("RUST_BACKTRACE", "0").output();
    let mut direct = Command::new(&exe);
    direct.args(args);
    match run(direct) {
        // An aarch64 test under qemu-user on a host without binfmt_misc
        // cannot exec itself directly: go through the emulator again.
        Err(e) if e.raw_os_error() == Some(8) && cfg!(target_arch = "aarch64") => {
            let mut via = Command::new("qemu-aarch64-static");
            via.arg(&exe).args(args);
            run(via).unwrap()
        }
        r => r.unwrap(),
    }
}

#[test]
fn goroutine_stack_overflow_is_reported_and_aborts() {
    if child_case().as_deref() == Some("overflow") {
        goro::run(|| {
            let h = goro::spawn(|| recurse(0, &mut [0; 512])).unwrap();
            h.join().ok();
        })
        .unwrap();
        unreachable!("the overflow must end the process");
    }
    let out = run_child("overflow", "goroutine_stack_overflow_is_reported_and_aborts");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(6), "expected death by SIGABRT; status {:?}, stderr: {stderr}", out.status);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("goro: goroutine "))
        .unwrap_or_else(|| panic!("no goro line in: {stderr}"));
    assert!(line.contains("stack overflow"), "{line}");
    // The overflowing goroutine is the child, not main.
    let goid: u64 = line["goro: goroutine ".len()..].split(' ').next().unwrap().parse().unwrap();
    assert!(goid >= 2, "{line}");
}

#[test]
fn main_goroutine_overflow_is_reported_too() {
    if child_case().as_deref() == Some("main") {
        goro::run(|| recurse(0, &mut [0; 512])).unwrap();
        unreachable!();
    }
    let out = run_child("main", "main_goroutine_overflow_is_reported_too");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(6), "status {:?}, stderr: {stderr}", out.status);
    assert!(stderr.contains("stack overflow"), "{stderr}");
}

#[test]
fn other_segfaults_reach_the_previous_handler() {
    if child_case().as_deref() == Some("segv") {
        // Install goro's handler, then fault outside any goroutine stack.
        goro::run(|| ()).unwrap();
        let p = std::hint::black_box(16usize) as *const u8;
        // SAFETY: deliberately invalid: this child exists to fault here.
        let v = unsafe { std::ptr::read_volatile(p) };
        println!("unreachable {v}");
        return;
    }
    let out = run_child("segv", "other_segfaults_reach_the_previous_handler");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(11), "expected SIGSEGV; status {:?}, stderr: {stderr}", out.status);
    assert!(!stderr.contains("goro:"), "goro must not claim a fault outside its stacks: {stderr}");
}
