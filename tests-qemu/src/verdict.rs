//! Reading the result of a boot from the console.
//!
//! The guest's `/init` prints, in this order:
//!
//! ```text
//! goro-qemu: start <arch>, <n> cpus, <k> cases
//! ok <case> ...            one line per case that passed
//! FAIL <case>: <why>       one line per case that failed
//! goro-qemu: <p> passed, <f> failed
//! ```
//!
//! and powers the machine off. A boot passes only if the start and final
//! lines are there, they agree with the case lines, nothing failed, and
//! neither a panic (goro's, or the kernel's) nor a goro fatal error shows.

/// Prefix of the guest's first line (also marks "booted to /init").
pub const START: &str = "goro-qemu: start ";

/// What the console says.
pub struct Verdict {
    pub passed: u32,
    pub failed: u32,
    pub problems: Vec<String>,
}

/// Judges a boot by its console lines.
pub fn judge(lines: &[String]) -> Verdict {
    let mut v = Verdict { passed: 0, failed: 0, problems: Vec::new() };
    let mut planned: Option<u32> = None;
    let mut summary: Option<(u32, u32)> = None;
    let (mut ok_lines, mut fail_lines) = (0u32, 0u32);
    for l in lines {
        if let Some(rest) = l.strip_prefix(START) {
            planned = rest.rsplit(", ").next().and_then(|s| s.strip_suffix(" cases")).and_then(|n| n.parse().ok());
        } else if l.starts_with("ok ") {
            ok_lines += 1;
        } else if l.starts_with("FAIL ") {
            fail_lines += 1;
        } else if let Some(rest) = l.strip_prefix("goro-qemu: ") {
            if let Some((p, f)) = parse_summary(rest) {
                summary = Some((p, f));
            }
        }
        if l.contains("panicked at") || l.contains("Kernel panic") {
            v.problems.push(format!("panic: {l}"));
        }
    }
    let Some(planned) = planned else {
        v.problems.push("no start line: /init did not run".into());
        return v;
    };
    let Some((p, f)) = summary else {
        v.problems.push(format!("no final 'N passed, N failed' line ({ok_lines} ok and {fail_lines} FAIL lines seen)"));
        v.passed = ok_lines;
        v.failed = fail_lines;
        return v;
    };
    v.passed = p;
    v.failed = f;
    if p != ok_lines || f != fail_lines {
        v.problems.push(format!("summary says {p} passed, {f} failed but {ok_lines} ok and {fail_lines} FAIL lines"));
    }
    if p + f != planned {
        v.problems.push(format!("{planned} cases planned, {} reported", p + f));
    }
    if f > 0 {
        v.problems.push(format!("{f} case(s) failed"));
    }
    v
}

/// `"<p> passed, <f> failed"`.
fn parse_summary(s: &str) -> Option<(u32, u32)> {
    let (p, f) = s.split_once(" passed, ")?;
    Some((p.parse().ok()?, f.strip_suffix(" failed")?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    #[test]
    fn a_clean_run_passes() {
        let v = judge(&lines("goro-qemu: start x86_64, 2 cpus, 2 cases\nok a\nok b\ngoro-qemu: 2 passed, 0 failed"));
        assert!(v.problems.is_empty(), "{:?}", v.problems);
        assert_eq!((v.passed, v.failed), (2, 0));
    }

    #[test]
    fn missing_summary_panic_and_count_mismatch_fail() {
        assert!(!judge(&lines("goro-qemu: start x, 1 cpus, 1 cases\nok a")).problems.is_empty());
        assert!(!judge(&lines("goro-qemu: start x, 1 cpus, 2 cases\nok a\ngoro-qemu: 1 passed, 0 failed"))
            .problems
            .is_empty());
        let v = judge(&lines(
            "goro-qemu: start x, 1 cpus, 1 cases\ngoroutine 3 panicked at a.rs:1:1:\nboom\nok a\ngoro-qemu: 1 passed, 0 failed",
        ));
        assert_eq!(v.problems.len(), 1);
        assert!(!judge(&lines("Kernel panic - not syncing: Attempted to kill init!")).problems.is_empty());
    }
}
