//! Which endpoint of a shard serves a read: one of its replicas, its primary, or nobody (an
//! error naming the shard). A pure function of health snapshots and the session's state.
//!
//! - `strong`: the primary.
//! - `eventual`: a replica in rotation (round-robin, or least outstanding queries with ties
//!   taken round-robin); none in rotation: the fallback policy decides (primary or error).
//! - `read_your_writes`: like `eventual` while the session has not written to the shard; after
//!   a write, only replicas in rotation whose GTID position covers the session's last write
//!   there, else the primary (which always has it), whatever the fallback policy.
//!
//! A shard without replicas reads from its primary under every level and policy: the fallback
//! policy is about replicas being unavailable, not about having none.

use std::borrow::Borrow;

use crate::health::{EndpointHealth, GtidPosition};

pub use shardgate_config::{Consistency, ReplicaFallback};

/// How to spread reads over the replicas that may serve them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balance<'a> {
    /// The `n`-th candidate (mod their number); pass a counter that grows by one per read.
    RoundRobin(u64),
    /// The candidate with the fewest queries in flight (`outstanding[i]` for replica `i`; a
    /// missing entry counts as 0); ties go round-robin by `tick`.
    LeastOutstanding { outstanding: &'a [usize], tick: u64 },
}

/// One read to place.
#[derive(Debug, Clone, Copy)]
pub struct ReadRequest<'a> {
    /// The shard's name (for the error message).
    pub shard: &'a str,
    pub consistency: Consistency,
    /// The GTID position of the session's last write to this shard (`@@last_gtid` after it);
    /// `None` if it has not written there.
    pub last_write: Option<&'a GtidPosition>,
    pub fallback: ReplicaFallback,
    pub balance: Balance<'a>,
}

/// Where the read goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// The shard's replica with this index (config order).
    Replica(usize),
    /// The shard's primary, and why.
    Primary(PrimaryReason),
    /// Nobody: the message names the shard and why each replica was passed over.
    Error(NoReplica),
}

/// Why a read goes to the primary (the `reason` label of a fallback counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrimaryReason {
    /// The read asked for `strong` consistency.
    Strong,
    /// The shard has no replicas configured.
    NoReplicas,
    /// No replica is in rotation and `replica_fallback = "primary"`.
    NoReplicaInRotation,
    /// No replica in rotation is known to have applied the session's last write.
    WriteNotReplicated,
}

impl PrimaryReason {
    /// `strong`, `no_replicas`, `no_replica_in_rotation`, `write_not_replicated`.
    pub fn as_str(self) -> &'static str {
        match self {
            PrimaryReason::Strong => "strong",
            PrimaryReason::NoReplicas => "no_replicas",
            PrimaryReason::NoReplicaInRotation => "no_replica_in_rotation",
            PrimaryReason::WriteNotReplicated => "write_not_replicated",
        }
    }
}

/// No replica may serve a read and the fallback policy forbids the primary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no replica of shard `{shard}` can serve this read (consistency {consistency}) and replica_fallback is \"error\": {detail}"
)]
pub struct NoReplica {
    pub shard: String,
    pub consistency: Consistency,
    /// Why each replica was passed over (`127.0.0.1:3307: replication lag 9 s exceeds …`).
    pub detail: String,
}

/// Chooses where a read on one shard goes. `replicas` are the shard's replica snapshots in
/// config order; the index in [`Choice::Replica`] is into it.
pub fn choose<H: Borrow<EndpointHealth>>(replicas: &[H], req: &ReadRequest<'_>) -> Choice {
    if req.consistency == Consistency::Strong {
        return Choice::Primary(PrimaryReason::Strong);
    }
    if replicas.is_empty() {
        return Choice::Primary(PrimaryReason::NoReplicas);
    }
    let last_write = match req.consistency {
        Consistency::ReadYourWrites => req.last_write.filter(|w| !w.is_empty()),
        _ => None,
    };
    let eligible = |h: &EndpointHealth| {
        h.in_rotation
            && last_write.is_none_or(|w| h.gtid_position.as_ref().is_some_and(|p| p.covers(w)))
    };
    if let Some(i) = pick(replicas, eligible, req.balance) {
        return Choice::Replica(i);
    }
    if last_write.is_some() {
        return Choice::Primary(PrimaryReason::WriteNotReplicated);
    }
    match req.fallback {
        ReplicaFallback::Primary => Choice::Primary(PrimaryReason::NoReplicaInRotation),
        ReplicaFallback::Error => Choice::Error(NoReplica {
            shard: req.shard.to_owned(),
            consistency: req.consistency,
            detail: describe(replicas),
        }),
    }
}

/// The index of the eligible replica `balance` selects, without allocating.
fn pick<H: Borrow<EndpointHealth>>(
    replicas: &[H],
    eligible: impl Fn(&EndpointHealth) -> bool,
    balance: Balance<'_>,
) -> Option<usize> {
    let load = |i: usize| match balance {
        Balance::RoundRobin(_) => 0,
        Balance::LeastOutstanding { outstanding, .. } => outstanding.get(i).copied().unwrap_or(0),
    };
    let tick = match balance {
        Balance::RoundRobin(n) | Balance::LeastOutstanding { tick: n, .. } => n,
    };
    // Pass 1: the lowest load among the eligible, and how many have it.
    let mut best: Option<(usize, u64)> = None;
    for (i, h) in replicas.iter().enumerate() {
        if !eligible(h.borrow()) {
            continue;
        }
        let l = load(i);
        best = match best {
            Some((b, n)) if l == b => Some((b, n + 1)),
            Some((b, n)) if l > b => Some((b, n)),
            _ => Some((l, 1)),
        };
    }
    let (lowest, ties) = best?;
    // Pass 2: the (tick mod ties)-th of them.
    let nth = usize::try_from(tick % ties).unwrap_or(0);
    replicas
        .iter()
        .enumerate()
        .filter(|(i, h)| eligible((*h).borrow()) && load(*i) == lowest)
        .nth(nth)
        .map(|(i, _)| i)
}

/// `addr: why` for every replica, for the error message.
fn describe<H: Borrow<EndpointHealth>>(replicas: &[H]) -> String {
    replicas
        .iter()
        .map(|h| {
            let h = h.borrow();
            let why = if h.checks == 0 {
                "not checked yet".to_owned()
            } else if h.in_rotation {
                "in rotation".to_owned()
            } else if let Some(e) = &h.last_error {
                e.clone()
            } else {
                format!(
                    "out of rotation until {} good checks in a row",
                    h.good_streak + 1
                )
            };
            format!("{}: {why}", h.target.endpoint)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use shardgate_config::Endpoint;

    use super::*;
    use crate::health::{MonitorTarget, Role};

    fn replica(port: u16, in_rotation: bool, gtid: Option<&str>) -> EndpointHealth {
        let target = MonitorTarget {
            shard: "s0".into(),
            role: Role::Replica,
            endpoint: Endpoint {
                host: "127.0.0.1".into(),
                port,
            },
        };
        EndpointHealth {
            checks: 3,
            up: true,
            in_rotation,
            lag: Some(Duration::ZERO),
            io_running: Some(true),
            sql_running: Some(true),
            gtid_position: gtid.map(|g| g.parse().unwrap()),
            ..EndpointHealth::unchecked(Arc::new(target))
        }
    }

    fn lagging(port: u16, gtid: &str) -> EndpointHealth {
        EndpointHealth {
            in_rotation: false,
            lag: Some(Duration::from_secs(9)),
            last_error: Some("replication lag 9 s exceeds max 5 s".into()),
            ..replica(port, false, Some(gtid))
        }
    }

    fn req(consistency: Consistency) -> ReadRequest<'static> {
        ReadRequest {
            shard: "s0",
            consistency,
            last_write: None,
            fallback: ReplicaFallback::Primary,
            balance: Balance::RoundRobin(0),
        }
    }

    #[test]
    fn strong_reads_go_to_the_primary() {
        let rs = [replica(1, true, None), replica(2, true, None)];
        assert_eq!(
            choose(&rs, &req(Consistency::Strong)),
            Choice::Primary(PrimaryReason::Strong)
        );
    }

    #[test]
    fn eventual_reads_round_robin_over_replicas_in_rotation() {
        let rs = [
            replica(1, true, None),
            replica(2, false, None),
            replica(3, true, None),
        ];
        let picks: Vec<Choice> = (0..4)
            .map(|n| {
                choose(
                    &rs,
                    &ReadRequest {
                        balance: Balance::RoundRobin(n),
                        ..req(Consistency::Eventual)
                    },
                )
            })
            .collect();
        assert_eq!(
            picks,
            [0, 2, 0, 2].map(Choice::Replica).to_vec(),
            "the replica out of rotation is skipped"
        );
    }

    #[test]
    fn reads_spread_evenly_across_replicas() {
        let rs = [
            replica(1, true, None),
            replica(2, true, None),
            replica(3, true, None),
        ];
        let mut counts = [0usize; 3];
        for n in 0..300 {
            let r = ReadRequest {
                balance: Balance::RoundRobin(n),
                ..req(Consistency::Eventual)
            };
            match choose(&rs, &r) {
                Choice::Replica(i) => counts[i] += 1,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(counts, [100, 100, 100]);
    }

    #[test]
    fn least_outstanding_prefers_the_idlest_and_breaks_ties_round_robin() {
        let rs = [
            replica(1, true, None),
            replica(2, true, None),
            replica(3, true, None),
            replica(4, false, None),
        ];
        let choice = |outstanding: &[usize], tick| {
            choose(
                &rs,
                &ReadRequest {
                    balance: Balance::LeastOutstanding { outstanding, tick },
                    ..req(Consistency::Eventual)
                },
            )
        };
        assert_eq!(
            choice(&[5, 1, 3, 0], 0),
            Choice::Replica(1),
            "replica 3 is out"
        );
        assert_eq!(choice(&[2, 4, 2, 0], 0), Choice::Replica(0));
        assert_eq!(choice(&[2, 4, 2, 0], 1), Choice::Replica(2));
        assert_eq!(choice(&[2, 4, 2, 0], 2), Choice::Replica(0));
        // Missing counts are 0.
        assert_eq!(choice(&[2], 0), Choice::Replica(1));
        assert_eq!(choice(&[2], 1), Choice::Replica(2));
    }

    #[test]
    fn no_replica_in_rotation_falls_back_to_the_primary() {
        let rs = [lagging(1, "1-1-5"), replica(2, false, None)];
        assert_eq!(
            choose(&rs, &req(Consistency::Eventual)),
            Choice::Primary(PrimaryReason::NoReplicaInRotation)
        );
        assert_eq!(
            choose(&rs, &req(Consistency::ReadYourWrites)),
            Choice::Primary(PrimaryReason::NoReplicaInRotation),
            "a session that never wrote reads like eventual"
        );
    }

    #[test]
    fn no_replica_in_rotation_with_error_fallback_names_the_shard_and_replicas() {
        let down = EndpointHealth {
            up: false,
            last_error: Some("cannot connect: no answer within 500 ms".into()),
            ..replica(2, false, None)
        };
        let unchecked = EndpointHealth {
            checks: 0,
            ..replica(3, false, None)
        };
        let rs = [lagging(1, "1-1-5"), down, unchecked];
        let r = ReadRequest {
            fallback: ReplicaFallback::Error,
            ..req(Consistency::Eventual)
        };
        let Choice::Error(e) = choose(&rs, &r) else {
            panic!("expected an error");
        };
        assert_eq!(e.shard, "s0");
        assert_eq!(
            e.to_string(),
            "no replica of shard `s0` can serve this read (consistency eventual) and \
             replica_fallback is \"error\": \
             127.0.0.1:1: replication lag 9 s exceeds max 5 s; \
             127.0.0.1:2: cannot connect: no answer within 500 ms; \
             127.0.0.1:3: not checked yet"
        );
    }

    #[test]
    fn a_shard_without_replicas_reads_from_its_primary_even_with_error_fallback() {
        let rs: [EndpointHealth; 0] = [];
        let r = ReadRequest {
            fallback: ReplicaFallback::Error,
            ..req(Consistency::Eventual)
        };
        assert_eq!(choose(&rs, &r), Choice::Primary(PrimaryReason::NoReplicas));
    }

    #[test]
    fn read_your_writes_uses_only_replicas_covering_the_last_write() {
        let write: GtidPosition = "1-101-10".parse().unwrap();
        let rs = [
            replica(1, true, Some("1-101-9")),  // behind the write
            replica(2, true, Some("1-101-10")), // has it
            replica(3, true, None),             // unknown position
            replica(4, true, Some("1-101-12,2-201-3")),
        ];
        let picks: Vec<Choice> = (0..4)
            .map(|n| {
                choose(
                    &rs,
                    &ReadRequest {
                        last_write: Some(&write),
                        balance: Balance::RoundRobin(n),
                        ..req(Consistency::ReadYourWrites)
                    },
                )
            })
            .collect();
        assert_eq!(picks, [1, 3, 1, 3].map(Choice::Replica).to_vec());
        // Eventual reads ignore the write.
        let r = ReadRequest {
            last_write: Some(&write),
            ..req(Consistency::Eventual)
        };
        assert_eq!(choose(&rs, &r), Choice::Replica(0));
    }

    #[test]
    fn read_your_writes_goes_to_the_primary_when_no_replica_has_the_write() {
        let write: GtidPosition = "1-101-10".parse().unwrap();
        // Covering but lagging (out of rotation), or in rotation but behind.
        let rs = [lagging(1, "1-101-11"), replica(2, true, Some("1-101-9"))];
        for fallback in [ReplicaFallback::Primary, ReplicaFallback::Error] {
            let r = ReadRequest {
                last_write: Some(&write),
                fallback,
                ..req(Consistency::ReadYourWrites)
            };
            assert_eq!(
                choose(&rs, &r),
                Choice::Primary(PrimaryReason::WriteNotReplicated),
                "the primary has the write whatever the fallback ({fallback:?})"
            );
        }
        // A write in another domain is not covered by this domain's progress.
        let other_domain: GtidPosition = "2-201-1".parse().unwrap();
        let rs = [replica(1, true, Some("1-101-50"))];
        let r = ReadRequest {
            last_write: Some(&other_domain),
            ..req(Consistency::ReadYourWrites)
        };
        assert_eq!(
            choose(&rs, &r),
            Choice::Primary(PrimaryReason::WriteNotReplicated)
        );
    }

    #[test]
    fn read_your_writes_without_a_write_respects_the_error_fallback() {
        let rs = [replica(1, false, Some("1-1-1"))];
        let empty = GtidPosition::new();
        for last_write in [None, Some(&empty)] {
            let r = ReadRequest {
                last_write,
                fallback: ReplicaFallback::Error,
                ..req(Consistency::ReadYourWrites)
            };
            assert!(
                matches!(choose(&rs, &r), Choice::Error(_)),
                "{last_write:?}"
            );
        }
    }

    #[test]
    fn accepts_shared_snapshots() {
        let rs = [
            Arc::new(replica(1, false, None)),
            Arc::new(replica(2, true, None)),
        ];
        assert_eq!(choose(&rs, &req(Consistency::Eventual)), Choice::Replica(1));
        let refs: Vec<&EndpointHealth> = rs.iter().map(|r| &**r).collect();
        assert_eq!(
            choose(&refs, &req(Consistency::Eventual)),
            Choice::Replica(1)
        );
    }

    #[test]
    fn config_spellings_round_trip() {
        for c in [
            Consistency::Strong,
            Consistency::ReadYourWrites,
            Consistency::Eventual,
        ] {
            assert_eq!(c.as_str().parse::<Consistency>(), Ok(c));
        }
        for f in [ReplicaFallback::Primary, ReplicaFallback::Error] {
            assert_eq!(f.as_str().parse::<ReplicaFallback>(), Ok(f));
        }
        assert!("weak"
            .parse::<Consistency>()
            .unwrap_err()
            .contains("\"eventual\""));
    }
}
