//! A process's resident set, from /proc (Linux).

/// Current (`VmRSS`) and peak (`VmHWM`) resident set of `pid`, in KiB; `None` once it is gone.
pub fn resident_kib(pid: u32) -> Option<Resident> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(Resident {
        now: field_kib(&status, "VmRSS:")?,
        peak: field_kib(&status, "VmHWM:")?,
    })
}

/// A resident set: now and at its peak so far, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resident {
    pub now: u64,
    pub peak: u64,
}

fn field_kib(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(name))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_process() {
        let own = resident_kib(std::process::id()).expect("/proc/self/status");
        assert!(own.now > 0 && own.peak >= own.now, "{own:?}");
    }

    #[test]
    fn reads_the_fields_by_name() {
        let status = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(field_kib(status, "VmRSS:"), Some(1024));
        assert_eq!(field_kib(status, "VmHWM:"), Some(2048));
        assert_eq!(field_kib(status, "VmSwap:"), None);
    }
}
