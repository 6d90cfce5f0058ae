//! Choosing loopback ports for servers.
//!
//! Ports come from 20000–32000, below Linux's ephemeral range (32768+), so outgoing client
//! connections do not take them. A port is handed out only if it can be bound right now and no
//! sandbox of this process holds it; another process can still take it before the server binds,
//! which the caller handles by starting that server again on a new port.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

const LOW: u16 = 20000;
const HIGH: u16 = 32000;

static RESERVED: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
static RNG: Mutex<u64> = Mutex::new(0);

/// A free port, reserved in this process until [`release`]d.
pub(crate) fn pick() -> Option<u16> {
    for _ in 0..2000 {
        let port = LOW + (next_random() % u64::from(HIGH - LOW)) as u16;
        if reserve(port) {
            return Some(port);
        }
    }
    None
}

/// Reserves `port` if no sandbox of this process holds it and it can be bound now.
pub(crate) fn reserve(port: u16) -> bool {
    let mut reserved = RESERVED.lock().unwrap_or_else(|e| e.into_inner());
    if reserved.contains(&port) || TcpListener::bind(("127.0.0.1", port)).is_err() {
        return false;
    }
    reserved.insert(port);
    true
}

/// Gives ports back to the pool.
pub(crate) fn release(ports: impl IntoIterator<Item = u16>) {
    let mut reserved = RESERVED.lock().unwrap_or_else(|e| e.into_inner());
    for p in ports {
        reserved.remove(&p);
    }
}

/// splitmix64, seeded from the clock and the pid so parallel processes choose differently.
fn next_random() -> u64 {
    let mut state = RNG.lock().unwrap_or_else(|e| e.into_inner());
    if *state == 0 {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        *state = nanos ^ (u64::from(std::process::id()) << 32) | 1;
    }
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picked_ports_are_distinct_and_in_range() {
        let ports: Vec<u16> = (0..50).map(|_| pick().expect("a free port")).collect();
        let set: BTreeSet<u16> = ports.iter().copied().collect();
        assert_eq!(set.len(), ports.len());
        assert!(ports.iter().all(|p| (LOW..HIGH).contains(p)));
        release(ports);
    }
}
