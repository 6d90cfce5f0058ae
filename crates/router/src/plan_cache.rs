//! Plans of text statements cached by their template: the text with its integer and string
//! literals taken out. Statements that differ only in their values (a point select by key,
//! run over and over) are parsed once; each later one costs a scan of its text, a hash
//! lookup and a ring lookup for its key.
//!
//! Only single-shard plans are served from the cache: a template plans like a prepared
//! statement (`?` for each literal), its shard is resolved from the literals, and the client's
//! text is sent unchanged. Anything else (a route over several shards, a rewrite, a
//! statement the template cannot stand for) is planned from the full text as before.

use foldhash::HashMap;
use std::sync::Arc;

use crate::{plan_sql, OwnedKey, Plan, Route, Syntax};
use shardgate_config::Topology;

/// Templates a session keeps; past this the cache starts over.
const MAX_TEMPLATES: usize = 256;
/// Longer statements are planned in full (and on a grown stack, see `plan_sql`).
const MAX_TEMPLATE_LEN: usize = 4 * 1024;

/// One session's cache (no locking: a session runs one statement at a time).
#[derive(Debug, Default)]
pub struct PlanCache {
    /// Template text → its plan, or `None` when statements of that shape need full planning.
    plans: HashMap<Box<str>, Option<Arc<Plan>>>,
    /// The topology the plans were made for; another one (a reload) empties the cache.
    topology: Option<Arc<Topology>>,
    /// How the session read the text the plans were made for; another (a `SET sql_mode`)
    /// empties the cache.
    syntax: Syntax,
    /// The generation of the views the plans were made with: a view over sharded tables made
    /// since then (a name that was a table of the default shard) empties the cache.
    views: u64,
    template: String,
    literals: Vec<OwnedKey>,
}

impl PlanCache {
    /// The single-shard plan of `sql` from its template's cached plan, if it has one.
    pub fn plan(&mut self, sql: &str, topology: &Arc<Topology>, syntax: Syntax) -> Option<Plan> {
        if !self
            .topology
            .as_ref()
            .is_some_and(|t| Arc::ptr_eq(t, topology))
            || self.syntax != syntax
            || self.views != topology.schema.views.generation()
        {
            self.plans.clear();
            self.topology = Some(topology.clone());
            self.syntax = syntax;
            self.views = topology.schema.views.generation();
        }
        // Views over sharded tables unknown (since DDL): nothing is served until they are read.
        if topology.schema.views.known() == shardgate_schema::ViewsKnown::Unknown
            || !templatize(sql, &mut self.template, &mut self.literals)
        {
            return None;
        }
        let template = match self.plans.get(self.template.as_str()) {
            Some(cached) => cached.clone()?,
            None => {
                if self.plans.len() >= MAX_TEMPLATES {
                    self.plans.clear();
                }
                // A template our parser cannot read would be planned as an unparsed statement
                // (the default shard): those, and long texts, are left to full planning.
                let parses = self.template.len() <= MAX_TEMPLATE_LEN
                    && crate::lex::parse(&self.template, syntax).is_ok();
                let planned = parses
                    .then(|| plan_sql(&self.template, topology, syntax).ok())
                    .flatten()
                    .filter(|p| {
                        p.rewritten.is_none()
                            && p.connection_state.is_none()
                            && p.lookup.is_none()
                            && matches!(p.route, Route::Shard(_) | Route::Deferred(_))
                    })
                    .map(Arc::new);
                self.plans
                    .insert(self.template.as_str().into(), planned.clone());
                planned?
            }
        };
        let shard = match &template.route {
            Route::Shard(shard) => *shard,
            Route::Deferred(deferred) => {
                let literal = |i: usize| Ok(self.literals.get(i).cloned());
                // Values on several shards (or none usable): the full text decides.
                deferred.resolve(topology, literal).ok()?
            }
            _ => return None,
        };
        Some(Plan {
            kind: template.kind,
            route: Route::Shard(shard),
            rewritten: None,
            table: template.table.clone(),
            assigns: template.assigns.clone(),
            uses_tables: template.uses_tables,
            connection_state: None,
            lists_server_threads: template.lists_server_threads,
            // The explanation names the template's placeholders: left to full planning.
            pinned_by: None,
            traits: template.traits,
            lookup: None,
            placed_by_key_default: template.placed_by_key_default.clone(),
            gives_ids: template.gives_ids,
        })
    }
}

/// Writes `sql` with each integer and string literal replaced by `?` into `template`, and the
/// literals, in order, into `literals`. `false` when the text holds something a template
/// cannot stand for exactly (other literals, `?`, escapes, executable comments).
pub fn templatize(sql: &str, template: &mut String, literals: &mut Vec<OwnedKey>) -> bool {
    template.clear();
    literals.clear();
    let b = sql.as_bytes();
    let ident = |c: u8| IDENT_BYTE[usize::from(c)];
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\'' => {
                // A prefixed string (N'', X'', _utf8mb4'') is not a plain string literal.
                if i > 0 && ident(b[i - 1]) {
                    return false;
                }
                let mut value = Vec::new();
                let mut j = i + 1;
                loop {
                    match b.get(j) {
                        None | Some(b'\\') => return false,
                        Some(b'\'') if b.get(j + 1) == Some(&b'\'') => {
                            value.push(b'\'');
                            j += 2;
                        }
                        Some(b'\'') => break,
                        Some(&c) => {
                            value.push(c);
                            j += 1;
                        }
                    }
                }
                j += 1;
                // Bytes the session's character set has no character for (see
                // `shard_key::literal`).
                if value.windows(3).any(|w| w == "\u{FFFD}".as_bytes()) {
                    return false;
                }
                // Adjacent strings are one literal in MariaDB.
                let next = b[j..].iter().find(|c| !c.is_ascii_whitespace());
                if matches!(next, Some(b'\'' | b'"')) {
                    return false;
                }
                template.push_str(&sql[copied..i]);
                template.push('?');
                literals.push(OwnedKey::Str(value));
                copied = j;
                i = j;
            }
            b'"' | b'?' => return false,
            b'`' => {
                i += 1;
                loop {
                    match b.get(i) {
                        None => return false,
                        Some(b'`') if b.get(i + 1) == Some(&b'`') => i += 2,
                        Some(b'`') => break,
                        Some(_) => i += 1,
                    }
                }
                i += 1;
            }
            b'#' => i = line_end(b, i),
            b'-' if b.get(i + 1) == Some(&b'-') => {
                if !b.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()) {
                    return false;
                }
                i = line_end(b, i);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                if matches!(b.get(i + 2), Some(b'!' | b'M')) {
                    return false;
                }
                match b[i + 2..].windows(2).position(|w| w == b"*/") {
                    Some(p) => i += 2 + p + 2,
                    None => return false,
                }
            }
            c if c.is_ascii_digit() => {
                let mut j = i;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                // 1.5, 1e3, 0x1F, 0b1 and names like 1abc are not integer literals.
                if b.get(j).is_some_and(|&c| ident(c) || c == b'.') {
                    return false;
                }
                let Ok(value) = sql[i..j].parse::<i128>() else {
                    return false;
                };
                template.push_str(&sql[copied..i]);
                template.push('?');
                literals.push(OwnedKey::Int(value));
                copied = j;
                i = j;
            }
            c if ident(c) => {
                while i < b.len() && ident(b[i]) {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    template.push_str(&sql[copied..]);
    true
}

/// Bytes that may continue an unquoted name: one table load per byte in the scan's hottest loop.
const IDENT_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        table[c] = b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80;
        c += 1;
    }
    table
};

fn line_end(b: &[u8], from: usize) -> usize {
    b[from..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |p| from + p + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template_of(sql: &str) -> Option<(String, Vec<OwnedKey>)> {
        let (mut t, mut l) = (String::new(), Vec::new());
        templatize(sql, &mut t, &mut l).then_some((t, l))
    }

    #[test]
    fn integer_and_string_literals_become_placeholders() {
        let (t, l) = template_of(
            "SELECT c FROM sbtest1 WHERE id = 42 AND name = 'it''s' -- 7\n AND t2.x = `a1`.b",
        )
        .unwrap();
        assert_eq!(
            t,
            "SELECT c FROM sbtest1 WHERE id = ? AND name = ? -- 7\n AND t2.x = `a1`.b"
        );
        assert_eq!(l, vec![OwnedKey::Int(42), OwnedKey::Str(b"it's".to_vec())]);
    }

    #[test]
    fn texts_a_template_cannot_stand_for_are_left_alone() {
        for sql in [
            "SELECT 1.5",
            "SELECT 1e3",
            "SELECT 0x1F",
            "SELECT X'1F'",
            "SELECT _utf8mb4'a'",
            "SELECT 'a' 'b'",
            "SELECT 'a\\'b'",
            "SELECT \"a\"",
            "SELECT ?",
            "SELECT /*!50000 1 */",
            "SELECT 'unterminated",
        ] {
            assert!(template_of(sql).is_none(), "{sql}");
        }
    }

    #[test]
    fn numbers_inside_names_stay() {
        let (t, l) = template_of("SELECT t1.c2 FROM sbtest1 WHERE id=5").unwrap();
        assert_eq!(t, "SELECT t1.c2 FROM sbtest1 WHERE id=?");
        assert_eq!(l, vec![OwnedKey::Int(5)]);
    }
}
