//! MariaDB global transaction ids and positions (`@@gtid_binlog_pos`, `@slave_connect_state`).
//!
//! A position is the last GTID of each replication domain, written `domain-server-seq`
//! separated by commas (`1-101-1234,2-201-7`). Each shard of a sandbox writes in its own
//! domain; a position covers another when, domain by domain, its sequence number is as high.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::BinlogError;

/// One transaction's id: `domain-server-seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Gtid {
    pub domain: u32,
    pub server: u32,
    pub seq: u64,
}

impl fmt::Display for Gtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.domain, self.server, self.seq)
    }
}

impl FromStr for Gtid {
    type Err = BinlogError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BinlogError::BadGtid(s.to_owned());
        let mut parts = s.trim().splitn(3, '-');
        let mut next = || parts.next().ok_or_else(bad);
        let (domain, server, seq) = (next()?, next()?, next()?);
        Ok(Gtid {
            domain: domain.parse().map_err(|_| bad())?,
            server: server.parse().map_err(|_| bad())?,
            seq: seq.parse().map_err(|_| bad())?,
        })
    }
}

/// The last transaction of each domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GtidPos {
    by_domain: BTreeMap<u32, Gtid>,
}

impl GtidPos {
    /// Records `gtid` as the last transaction of its domain.
    pub fn advance(&mut self, gtid: Gtid) {
        self.by_domain.insert(gtid.domain, gtid);
    }

    /// Whether every domain of `other` is at or past its sequence number here.
    pub fn covers(&self, other: &GtidPos) -> bool {
        other.by_domain.values().all(|theirs| {
            self.by_domain
                .get(&theirs.domain)
                .is_some_and(|ours| ours.seq >= theirs.seq)
        })
    }

    /// Whether `gtid` is at or before this position's last transaction of its domain.
    pub fn includes(&self, gtid: &Gtid) -> bool {
        (self.by_domain.get(&gtid.domain)).is_some_and(|ours| ours.seq >= gtid.seq)
    }

    /// How many transactions `other` is ahead of this position, over all domains (sequence
    /// numbers of a domain grow by one per transaction).
    pub fn behind(&self, other: &GtidPos) -> u64 {
        other
            .by_domain
            .values()
            .map(|theirs| {
                let ours = self.by_domain.get(&theirs.domain).map_or(0, |g| g.seq);
                theirs.seq.saturating_sub(ours)
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_domain.is_empty()
    }

    /// The latest position neither this one nor `other` is before: per domain the smaller
    /// sequence number, and no domain that one of them lacks (it had no transaction there
    /// yet, so a stream from it reads that domain from its start).
    pub fn earliest(&self, other: &GtidPos) -> GtidPos {
        let by_domain = (self.by_domain.iter())
            .filter_map(|(domain, ours)| {
                let theirs = other.by_domain.get(domain)?;
                Some((
                    *domain,
                    if ours.seq <= theirs.seq {
                        *ours
                    } else {
                        *theirs
                    },
                ))
            })
            .collect();
        GtidPos { by_domain }
    }
}

impl fmt::Display for GtidPos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, gtid) in self.by_domain.values().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{gtid}")?;
        }
        Ok(())
    }
}

impl FromStr for GtidPos {
    type Err = BinlogError;

    /// `""` is the empty position (a server that never wrote a transaction).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut pos = GtidPos::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let gtid: Gtid = part.parse()?;
            if pos.by_domain.contains_key(&gtid.domain) {
                return Err(BinlogError::BadGtid(s.to_owned()));
            }
            pos.advance(gtid);
        }
        Ok(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(s: &str) -> GtidPos {
        s.parse().unwrap()
    }

    #[test]
    fn a_position_includes_the_transactions_up_to_its_own_per_domain() {
        let at = pos("1-101-10,2-201-5");
        assert!(at.includes(&"1-101-10".parse().unwrap()));
        assert!(at.includes(&"1-102-3".parse().unwrap()));
        assert!(!at.includes(&"1-101-11".parse().unwrap()));
        assert!(!at.includes(&"2-201-6".parse().unwrap()));
        assert!(!at.includes(&"3-301-1".parse().unwrap()));
    }

    #[test]
    fn reads_and_writes_positions() {
        assert_eq!(pos("2-201-7, 1-101-1234").to_string(), "1-101-1234,2-201-7");
        assert_eq!(pos("").to_string(), "");
        for bad in ["1-2", "a-1-2", "1-1-1,1-1-2", "1-1-1-1"] {
            assert!(bad.parse::<GtidPos>().is_err(), "{bad}");
        }
    }

    #[test]
    fn coverage_is_per_domain() {
        assert!(pos("1-101-10,2-201-3").covers(&pos("1-101-10")));
        assert!(!pos("1-101-9,2-201-3").covers(&pos("1-101-10")));
        assert!(!pos("2-201-3").covers(&pos("1-101-1")));
        assert!(pos("1-101-1").covers(&pos("")));
        // A failover changes the server id, not the domain's numbering.
        assert!(pos("1-102-11").covers(&pos("1-101-10")));
    }

    #[test]
    fn counts_transactions_behind() {
        assert_eq!(pos("1-101-10").behind(&pos("1-101-15,2-201-2")), 7);
        assert_eq!(pos("1-101-10").behind(&pos("1-101-5")), 0);
    }

    #[test]
    fn the_earliest_of_two_positions_is_taken_per_domain() {
        let earliest = pos("1-101-10,2-201-3").earliest(&pos("1-101-7,2-201-9"));
        assert_eq!(earliest.to_string(), "1-101-7,2-201-3");
        // A domain one position lacks is read from its start.
        assert_eq!(
            pos("1-101-10,2-201-3")
                .earliest(&pos("1-101-12"))
                .to_string(),
            "1-101-10"
        );
        assert_eq!(pos("").earliest(&pos("1-101-12")), pos(""));
    }

    #[test]
    fn advancing_replaces_the_domain() {
        let mut p = pos("1-101-10,2-201-3");
        p.advance("1-101-11".parse().unwrap());
        assert_eq!(p.to_string(), "1-101-11,2-201-3");
    }
}
