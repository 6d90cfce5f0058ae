//! Golden tests: the plan (or the error) chosen for each statement, pinned in text files.
//!
//! `tests/golden/plans.txt` holds statements the router routes; `tests/golden/unsupported.txt`
//! holds statements it deliberately refuses, with the exact message a client sees. Both are
//! planned against `tests/golden/topology.toml`. `tests/golden/with_schema.txt` (plans and
//! refusals) is planned against it with the columns of `tests/golden/columns.txt` in its
//! schema cache.
//!
//! File format: a case is one or more SQL lines (joined with `\n`; the single line `<empty>`
//! stands for the empty text) followed by one `=> ` line with the outcome:
//!
//! ```text
//! SELECT * FROM users WHERE id = 5
//! => read → shard s1
//! SELECT * FROM users
//! => error: cannot route SELECT on sharded table `users`: …
//! ```
//!
//! A routed outcome is `Plan::display`: a plan on several shards is a tree of several lines,
//! the first after `=> `, the others each after `=| `. A `SET` plan also lists ` · autocommit on|off` when it
//! sets autocommit and ` · `<sql>`` for each session variable it replays. Lines starting with
//! `#` and blank lines are comments and are kept as they are.
//!
//! To accept the router's current answers (after a deliberate change), run
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test -p shardgate-router --test golden
//! ```
//!
//! which rewrites both files in place (comments and order kept); review the diff before
//! committing it.

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use shardgate_config::Topology;
use shardgate_router::{plan_sql, Route};

/// One line group of a golden file.
enum Item {
    /// A comment or blank line, kept verbatim.
    Verbatim(String),
    Case {
        sql_lines: Vec<String>,
        expected: String,
    },
}

const EMPTY: &str = "<empty>";
const ARROW: &str = "=> ";
/// Starts each further line of a several-line outcome (a plan tree).
const MORE: &str = "=| ";

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn parse_file(path: &Path) -> Vec<Item> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut items = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if let Some(more) = line.strip_prefix(MORE) {
            match (items.last_mut(), pending.is_empty()) {
                (Some(Item::Case { expected, .. }), true) => {
                    expected.push('\n');
                    expected.push_str(more);
                }
                _ => panic!(
                    "{}:{}: `=|` line not after an outcome",
                    path.display(),
                    n + 1
                ),
            }
        } else if let Some(expected) = line.strip_prefix(ARROW) {
            assert!(
                !pending.is_empty(),
                "{}:{}: `=>` line without SQL before it",
                path.display(),
                n + 1
            );
            items.push(Item::Case {
                sql_lines: std::mem::take(&mut pending),
                expected: expected.to_owned(),
            });
        } else if pending.is_empty() && (line.starts_with('#') || line.trim().is_empty()) {
            items.push(Item::Verbatim(line.to_owned()));
        } else {
            pending.push(line.to_owned());
        }
    }
    assert!(
        pending.is_empty(),
        "{}: SQL at the end without a `=>` line: {pending:?}",
        path.display()
    );
    items
}

fn sql_of(sql_lines: &[String]) -> String {
    if sql_lines.len() == 1 && sql_lines[0] == EMPTY {
        String::new()
    } else {
        sql_lines.join("\n")
    }
}

/// The outcome of planning `sql`, as one golden line (without the arrow).
fn outcome(sql: &str, topology: &Topology) -> String {
    match plan_sql(sql, topology, shardgate_router::Syntax::DEFAULT) {
        Ok(plan) => {
            let mut line = plan.display(topology).to_string();
            if let Route::Set {
                vars, autocommit, ..
            } = &plan.route
            {
                if let Some(on) = autocommit {
                    let _ = write!(line, " · autocommit {}", if *on { "on" } else { "off" });
                }
                for var in vars {
                    let _ = write!(line, " · `{}`", var.sql);
                }
            }
            line
        }
        // Planned in steps: its subqueries first, then the statement with their answers.
        Err(shardgate_router::RouteError::SubqueriesFirst(request)) => request.to_string(),
        // Its SELECT first, the variables set to its row.
        Err(shardgate_router::RouteError::IntoVariables(request)) => request.to_string(),
        // Its SELECT without the assignments first, the variables set from its rows.
        Err(shardgate_router::RouteError::AssigningSelect(request)) => request.to_string(),
        Err(e) => format!("error: {e}"),
    }
}

/// The test topology with the columns of `tests/golden/columns.txt` (`table: column, …` a
/// line) in its schema cache.
fn topology_with_columns() -> Topology {
    let topology = common::topology();
    let text = std::fs::read_to_string(golden_path("columns.txt")).expect("columns.txt");
    let mut rows = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (table, columns) = line.split_once(':').expect("`table: columns`");
        for (n, column) in columns.split(',').enumerate() {
            rows.push(shardgate_schema::ColumnRow {
                table: table.trim().into(),
                column: column.trim().into(),
                ordinal: n as u64 + 1,
                column_type: "int".into(),
                collation: None,
                default: shardgate_schema::ColumnDefault::Null,
                primary_key: column.trim() == "id",
            });
        }
    }
    rows.extend(common::string_key_columns());
    common::with_schema(topology, shardgate_schema::Schema::from_rows(rows))
}

/// The test topology with its tables' columns in the schema cache (for `joins.txt`: the
/// `Join` primitive resolves columns and compares types by it).
fn topology_with_schema() -> Topology {
    let topology = common::topology();
    let row = |table: &str, column: &str, ordinal: u64, ty: &str, collation: Option<&str>| {
        shardgate_schema::ColumnRow {
            table: table.into(),
            column: column.into(),
            ordinal,
            column_type: ty.into(),
            collation: collation.map(Into::into),
            default: shardgate_schema::ColumnDefault::Null,
            primary_key: column == "id",
        }
    };
    let ci = Some("utf8mb4_general_ci");
    let schema = shardgate_schema::Schema::from_rows(
        [
            row("users", "id", 1, "int(11)", None),
            row("users", "name", 2, "varchar(40)", ci),
            row("users", "email", 3, "varchar(80)", Some("utf8mb4_bin")),
            row(
                "users",
                "country",
                4,
                "varchar(2)",
                Some("utf8mb4_unicode_ci"),
            ),
            row("users", "score", 5, "double", None),
            row("orders", "id", 1, "bigint(20)", None),
            row("orders", "user_id", 2, "int(11)", None),
            row("orders", "total", 3, "decimal(10,2)", None),
            row("orders", "note", 4, "varchar(40)", ci),
            row("orders", "placed", 5, "date", None),
            row("events", "id", 1, "int(11)", None),
            row("events", "user_id", 2, "int(11)", None),
            row("events", "name", 3, "varchar(40)", ci),
            row("events", "at", 4, "datetime", None),
            row("countries", "code", 1, "varchar(2)", ci),
            row("countries", "name", 2, "varchar(40)", ci),
            row("ledger", "account_id", 1, "int(11)", None),
            row("ledger", "amount", 2, "decimal(12,2)", None),
        ]
        .into_iter()
        .chain(common::string_key_columns()),
    );
    common::with_schema(topology, schema)
}

/// Checks (or with `UPDATE_GOLDEN=1` rewrites) one golden file; `want_errors` says whether
/// its cases must all be errors (unsupported.txt) or all be plans (plans.txt), if either.
fn check(name: &str, want_errors: Option<bool>, topology: Topology) {
    let path = golden_path(name);
    let items = parse_file(&path);
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let mut rewritten = String::new();
    let mut mismatches = Vec::new();
    let mut cases = 0;
    for item in &items {
        match item {
            Item::Verbatim(line) => {
                rewritten.push_str(line);
                rewritten.push('\n');
            }
            Item::Case {
                sql_lines,
                expected,
            } => {
                cases += 1;
                let sql = sql_of(sql_lines);
                let actual = outcome(&sql, &topology);
                for line in sql_lines {
                    rewritten.push_str(line);
                    rewritten.push('\n');
                }
                let _ = writeln!(
                    rewritten,
                    "{ARROW}{}",
                    actual.replace('\n', &format!("\n{MORE}"))
                );
                if actual != *expected {
                    mismatches.push(format!(
                        "{sql}\n  expected: {expected}\n  actual:   {actual}"
                    ));
                }
                if let Some(want_errors) =
                    want_errors.filter(|w| actual.starts_with("error: ") != *w)
                {
                    mismatches.push(format!(
                        "{sql}\n  belongs in {}: {actual}",
                        if want_errors {
                            "plans.txt"
                        } else {
                            "unsupported.txt"
                        }
                    ));
                }
            }
        }
    }
    assert!(cases > 0, "{name} has no cases");
    if update {
        std::fs::write(&path, rewritten).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // A case in the wrong file still fails: move it by hand.
        mismatches.retain(|m| m.contains("\n  belongs in "));
    }
    assert!(
        mismatches.is_empty(),
        "{} of {cases} cases in {name} differ (UPDATE_GOLDEN=1 accepts the actual outcomes):\n\n{}",
        mismatches.len(),
        mismatches.join("\n\n")
    );
}

#[test]
fn routed_statements_match_plans_txt() {
    check("plans.txt", Some(false), common::topology());
}

/// Joins of tables whose rows live on different shards, planned with the schema cache: the
/// `Join` primitive's trees, and the joins that keep their copies (materialize).
#[test]
fn cross_shard_joins_match_joins_txt() {
    check("joins.txt", Some(false), topology_with_schema());
}

#[test]
fn unsupported_statements_match_unsupported_txt() {
    check("unsupported.txt", Some(true), common::topology());
}

#[test]
fn statements_planned_with_the_schema_cache_match_with_schema_txt() {
    check("with_schema.txt", None, topology_with_columns());
}

/// The files are large enough to mean something, and each statement is pinned once.
#[test]
fn golden_files_have_enough_distinct_cases() {
    let mut seen = std::collections::HashSet::new();
    for (name, minimum) in [("plans.txt", 60), ("unsupported.txt", 25)] {
        let mut count = 0;
        for item in parse_file(&golden_path(name)) {
            if let Item::Case { sql_lines, .. } = item {
                count += 1;
                let sql = sql_of(&sql_lines);
                assert!(seen.insert(sql.clone()), "{name}: duplicate case {sql:?}");
            }
        }
        assert!(
            count >= minimum,
            "{name} has {count} cases, want at least {minimum}"
        );
    }
}
