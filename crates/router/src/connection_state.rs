//! State a statement leaves on the backend connection it runs on — temporary tables, named
//! locks, `LOCK TABLES`, open `HANDLER`s — which the session must keep that connection for
//! until the state is gone. Where each kind lives on a sharded topology:
//!
//! - temporary tables, named locks and handlers: the default shard (the one server every
//!   session's locks must meet on, and where unsharded tables live);
//! - `LOCK TABLES`: every shard that has one of the tables (sharded and reference tables are on
//!   every shard, unsharded ones on the default shard).

use shardgate_config::Topology;
use shardgate_ring::ShardId;
use sqlparser::ast::{CreateTable, Statement};
use sqlparser::tokenizer::Token;

use crate::plan::{Plan, Route, StatementKind};
use crate::RouteError;

/// What a statement does to the state kept on its connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// `CREATE TEMPORARY TABLE name`.
    CreatesTemporaryTable(String),
    /// `DROP [TEMPORARY] TABLE names`: any of them may be one of the session's temporary tables.
    DropsTables(Vec<String>),
    /// `LOCK TABLES` on `shards`; the default shard runs the text as written, the others
    /// `others_sql` (the statement without the tables only the default shard has).
    LocksTables {
        shards: Vec<ShardId>,
        others_sql: Option<String>,
    },
    /// `UNLOCK TABLES`: runs wherever the session holds table locks.
    UnlocksTables,
    /// Calls of the named-lock functions (`GET_LOCK`, `RELEASE_LOCK`, `RELEASE_ALL_LOCKS`,
    /// `IS_USED_LOCK`, `IS_FREE_LOCK`).
    NamedLocks(NamedLockCalls),
    /// `HANDLER name OPEN | READ | CLOSE`.
    Handler { name: String, action: HandlerAction },
}

/// The named-lock functions one statement calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamedLockCalls {
    /// Names `GET_LOCK` is called with, as string literals.
    pub acquires: Vec<String>,
    /// `GET_LOCK` with a name that is not a literal (`GET_LOCK(@name, 0)`).
    pub acquires_unnamed: bool,
    /// `RELEASE_LOCK` or `RELEASE_ALL_LOCKS`.
    pub releases: bool,
    /// `RELEASE_ALL_LOCKS`.
    pub releases_all: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandlerAction {
    Open,
    Read,
    Close,
}

/// `CREATE TEMPORARY TABLE`: on the default shard, under a name no sharded or reference table
/// has (it would hide that table from this session only on the default shard).
pub(crate) fn plan_temporary_table(
    ct: &CreateTable,
    stmt: &Statement,
    topology: &Topology,
) -> Result<Plan, RouteError> {
    let name = crate::shard_key::base_name(&ct.name).unwrap_or_default();
    if topology.table(&name).is_some() || topology.is_reference(&name) {
        return Err(RouteError::NotSupported(format!(
            "a temporary table named like sharded or reference table `{name}` is not supported by shardgate: it would hide that table on one shard only"
        )));
    }
    if let Some(table) = crate::planner::sharded_relations(stmt, topology)
        .into_iter()
        .find(|_| ct.like.is_none() && ct.clone.is_none())
    {
        return Err(RouteError::Unsupported {
            construct: "CREATE TEMPORARY TABLE … SELECT".into(),
            table,
        });
    }
    Ok(on_default_shard(
        topology,
        ConnectionState::CreatesTemporaryTable(name),
    ))
}

/// `LOCK TABLE[S] t [[AS] alias] lock_type, …` (read from its tokens: the parser knows neither
/// `LOCK TABLE` nor qualified names there): on every shard that has one of the tables. `None`
/// when `sql` is no LOCK TABLES statement.
pub(crate) fn plan_lock_tables(
    sql: &str,
    syntax: crate::Syntax,
    topology: &Topology,
) -> Option<Result<Plan, RouteError>> {
    // Cheap first: only a text starting with LOCK or UNLOCK is tokenized.
    let head = sql.trim_start();
    let unlock = head
        .get(..6)
        .is_some_and(|w| w.eq_ignore_ascii_case("unlock"));
    if !unlock
        && !head
            .get(..4)
            .is_some_and(|w| w.eq_ignore_ascii_case("lock"))
    {
        return None;
    }
    let tokens = crate::lex::tokenize(sql, syntax, false).ok()?;
    let mut offsets = crate::rewrite::Offsets::new(sql);
    let tokens: Vec<_> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    let word = |i: usize| match tokens.get(i).map(|t| &t.token) {
        Some(Token::Word(w)) if w.quote_style.is_none() => Some(w.value.to_ascii_lowercase()),
        _ => None,
    };
    if unlock {
        // `UNLOCK TABLE`, which the parser does not read either.
        let only = tokens.len() == 2
            || (tokens.len() == 3 && matches!(tokens[2].token, Token::SemiColon | Token::EOF));
        return (word(0)? == "unlock" && word(1)? == "table" && only)
            .then(|| Ok(plan_unlock_tables(topology)));
    }
    if word(0)? != "lock" || !matches!(word(1)?.as_str(), "table" | "tables") {
        return None;
    }
    // Each element: its table's name (the last part of `db.t`) and its text.
    let mut elements: Vec<(String, &str)> = Vec::new();
    let mut start = 2;
    while start < tokens.len() {
        let end = (start..tokens.len())
            .find(|&i| {
                matches!(
                    tokens[i].token,
                    Token::Comma | Token::SemiColon | Token::EOF
                )
            })
            .unwrap_or(tokens.len());
        let mut name_at = start;
        while matches!(
            tokens.get(name_at + 1).map(|t| &t.token),
            Some(Token::Period)
        ) {
            name_at += 2;
        }
        let name = match tokens.get(name_at).map(|t| &t.token) {
            Some(Token::Word(w)) => w.value.to_ascii_lowercase(),
            _ => return Some(Err(RouteError::Syntax(format!("cannot read `{sql}`")))),
        };
        let from = offsets.at(tokens[start].span.start)?;
        let to = match tokens.get(end) {
            Some(t) => offsets.at(t.span.start)?,
            None => sql.len(),
        };
        elements.push((name, sql[from..to].trim()));
        if !matches!(tokens.get(end).map(|t| &t.token), Some(Token::Comma)) {
            break;
        }
        start = end + 1;
    }
    let everywhere = |t: &str| topology.table(t).is_some() || topology.is_reference(t);
    let others: Vec<&str> = elements
        .iter()
        .filter(|(name, _)| everywhere(name))
        .map(|(_, text)| *text)
        .collect();
    let state = if others.is_empty() {
        ConnectionState::LocksTables {
            shards: vec![topology.default_shard],
            others_sql: None,
        }
    } else {
        ConnectionState::LocksTables {
            shards: (0..topology.shards.len()).collect(),
            others_sql: (others.len() < elements.len())
                .then(|| format!("LOCK TABLES {}", others.join(", "))),
        }
    };
    let mut plan = Plan::new(StatementKind::Session, Route::Shard(topology.default_shard));
    plan.connection_state = Some(state);
    Some(Ok(plan))
}

/// `UNLOCK TABLES`.
pub(crate) fn plan_unlock_tables(topology: &Topology) -> Plan {
    let mut plan = Plan::new(StatementKind::Session, Route::Shard(topology.default_shard));
    plan.connection_state = Some(ConnectionState::UnlocksTables);
    plan
}

/// `HANDLER name …` (from its words; the parser does not read HANDLER): the default shard, for
/// unsharded and reference tables. A sharded table's handler would read one shard's index.
pub(crate) fn plan_handler(words: &[String], topology: &Topology) -> Result<Plan, RouteError> {
    let name = words
        .get(1)
        .map(|w| w.to_ascii_lowercase())
        .unwrap_or_default();
    if let Some(rule) = topology.table(&name) {
        return Err(RouteError::NotSupported(format!(
            "HANDLER on sharded table `{}` is not supported by shardgate: it would read one shard's rows",
            rule.name
        )));
    }
    let action = match words.get(2).map(|w| w.to_ascii_lowercase()).as_deref() {
        Some("open") => HandlerAction::Open,
        Some("close") => HandlerAction::Close,
        _ => HandlerAction::Read,
    };
    // `HANDLER t OPEN AS alias`: the handler is known by its alias from then on.
    let name = match (action, words.get(3), words.get(4)) {
        (HandlerAction::Open, Some(as_), Some(alias)) if as_.eq_ignore_ascii_case("as") => {
            alias.to_ascii_lowercase()
        }
        (HandlerAction::Open, Some(alias), _) if !alias.eq_ignore_ascii_case("as") => {
            alias.to_ascii_lowercase()
        }
        _ => name,
    };
    let mut plan = on_default_shard(topology, ConnectionState::Handler { name, action });
    plan.kind = StatementKind::LockingRead;
    Ok(plan)
}

/// A statement with `state` on the default shard's primary.
fn on_default_shard(topology: &Topology, state: ConnectionState) -> Plan {
    let mut plan = Plan::new(StatementKind::Write, Route::Shard(topology.default_shard));
    plan.connection_state = Some(state);
    plan
}

/// Whether `sql` may call a named-lock function: every such name ends in `_lock` or
/// `_locks` (a cheap test before the statement's tree is searched).
pub fn mentions_named_locks(sql: &[u8]) -> bool {
    memchr::memchr_iter(b'_', sql).any(|at| {
        sql.get(at + 1..at + 5)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"lock"))
    })
}

/// The named-lock functions `sql` calls, if any (from its tokens: `DO RELEASE_LOCK(…)` and
/// other text the parser does not read count too).
pub(crate) fn named_lock_calls(sql: &str, syntax: crate::Syntax) -> Option<NamedLockCalls> {
    let tokens = crate::lex::tokenize(sql, syntax, true).ok()?;
    let tokens: Vec<&Token> = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let mut calls = NamedLockCalls::default();
    let mut any = false;
    for (i, token) in tokens.iter().enumerate() {
        let Token::Word(w) = token else { continue };
        if w.quote_style.is_some() || tokens.get(i + 1) != Some(&&Token::LParen) {
            continue;
        }
        match w.value.to_ascii_lowercase().as_str() {
            "get_lock" => {
                any = true;
                match tokens.get(i + 2) {
                    Some(Token::SingleQuotedString(name)) => calls.acquires.push(name.clone()),
                    _ => calls.acquires_unnamed = true,
                }
            }
            "release_lock" => {
                any = true;
                calls.releases = true;
            }
            "release_all_locks" => {
                any = true;
                calls.releases = true;
                calls.releases_all = true;
            }
            "is_used_lock" | "is_free_lock" => any = true,
            _ => {}
        }
    }
    any.then_some(calls)
}

/// Named locks live on the default shard: a statement calling the lock functions must run
/// there, and runs on the primary.
pub(crate) fn attach_named_locks(
    plan: &mut Plan,
    calls: NamedLockCalls,
    topology: &Topology,
) -> Result<(), RouteError> {
    if plan.route != Route::Shard(topology.default_shard) {
        return Err(RouteError::NotSupported(format!(
            "named locks (GET_LOCK, RELEASE_LOCK, …) live on the default shard {}: call them in a statement that runs there (without sharded tables)",
            topology.shards[topology.default_shard].name
        )));
    }
    if plan.kind == StatementKind::Read {
        plan.kind = StatementKind::LockingRead;
    }
    plan.connection_state = Some(ConnectionState::NamedLocks(calls));
    Ok(())
}
