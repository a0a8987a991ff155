//! Booting a kernel and initramfs under qemu-system (TCG, 2 vCPUs), with the
//! serial console captured line by line and the whole run bounded in time.
//!
//! qemu exits 0 whatever the guest did (even when the kernel panics, given
//! `panic=-1` and `-no-reboot`), so the verdict comes from the console:
//! see `crate::verdict`.

use crate::Arch;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What one boot printed, and how it ended.
pub struct Boot {
    /// Console lines (without line endings).
    pub lines: Vec<String>,
    /// The deadline passed and qemu was killed.
    pub timed_out: bool,
    /// From qemu's start to the guest's first line that starts with `marker`.
    pub first_line: Option<Duration>,
    /// From qemu's start to its exit (or the kill).
    pub elapsed: Duration,
    /// qemu's own error output (empty when all went well).
    pub stderr: String,
}

/// The qemu command line for `arch`.
pub fn command(arch: Arch, kernel: &Path, initrd: &Path, append: &str) -> Command {
    let (bin, machine, cpu, console) = match arch {
        Arch::X86_64 => ("qemu-system-x86_64", "pc", "qemu64", "ttyS0"),
        // cortex-a57 boots several times faster than `max`, whose pointer
        // authentication TCG emulates slowly.
        Arch::Aarch64 => ("qemu-system-aarch64", "virt", "cortex-a57", "ttyAMA0"),
    };
    let mut c = Command::new(bin);
    c.args(["-M", machine, "-cpu", cpu, "-accel", "tcg", "-smp", "2", "-m", "256"])
        .arg("-kernel")
        .arg(kernel)
        .arg("-initrd")
        .arg(initrd)
        .arg("-append")
        .arg(format!("console={console} panic=-1 quiet loglevel=3 {append}"))
        .args(["-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot", "-nodefaults"]);
    c
}

/// Runs `cmd`, echoing console lines through `show` as they arrive, until
/// qemu exits or `timeout` passes (then it is killed).
pub fn boot(mut cmd: Command, timeout: Duration, marker: &str, mut show: impl FnMut(&str)) -> Result<Boot, String> {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{:?}: {e} (is qemu-system installed?)", cmd.get_program()))?;
    let (tx, rx) = mpsc::channel::<(Instant, String)>();
    let stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf);
                    let line = line.trim_end_matches(['\n', '\r']).replace('\r', "");
                    if tx.send((Instant::now(), line)).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut stderr = child.stderr.take().expect("piped stderr");
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = start + timeout;
    let mut boot =
        Boot { lines: Vec::new(), timed_out: false, first_line: None, elapsed: Duration::ZERO, stderr: String::new() };
    loop {
        let now = Instant::now();
        if now >= deadline {
            boot.timed_out = true;
            let _ = child.kill();
            break;
        }
        match rx.recv_timeout(deadline - now) {
            Ok((at, line)) => {
                if boot.first_line.is_none() && line.starts_with(marker) {
                    boot.first_line = Some(at - start);
                }
                show(&line);
                boot.lines.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = child.wait();
    boot.elapsed = start.elapsed();
    let _ = reader.join();
    // Lines that raced with the kill or the exit.
    while let Ok((_, line)) = rx.try_recv() {
        show(&line);
        boot.lines.push(line);
    }
    boot.stderr = err_reader.join().unwrap_or_default();
    Ok(boot)
}
