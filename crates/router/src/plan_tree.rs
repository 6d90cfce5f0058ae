//! The one printer of a plan: a tree of operator lines, outermost first (Vitess's `vexplain
//! plan` is the model), each line that sends a statement to a shard naming the shard and the
//! text. `shardgate route --sql`, `SHOW SHARDGATE ROUTE FOR` and `EXPLAIN` of a statement that
//! does not run on one shard all print it.

use std::fmt;

use shardgate_config::Topology;
use shardgate_merge::{Aggregate, BitOp, SortKey, VarianceKind, WindowFunction};
use shardgate_ring::ShardId;

use crate::set_operation::{OrderTarget, SetNode, SetOperationPlan};
use crate::{
    ConnectionState, HandlerAction, JoinPlan, JoinStrategy, MaterializePlan, MergeSpec, Plan,
    Route, ScatterPlan, StatementKind, TableCopy, LOOKUP_BATCH,
};

/// A plan as lines of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanTree {
    pub lines: Vec<PlanLine>,
}

/// One operator of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanLine {
    /// Nesting depth: a line's inputs are the deeper lines below it.
    pub depth: usize,
    /// What it does, e.g. `MergeSort #1 DESC` or `Route s0`.
    pub operator: String,
    /// The shard it sends a statement to.
    pub shard: Option<ShardId>,
    /// The text it sends there; `None` with a shard: the client's statement as written.
    pub sql: Option<String>,
}

/// One row of the answer to `EXPLAIN` / `SHOW SHARDGATE ROUTE FOR`: the indented operator,
/// the shard and the text sent there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRow {
    pub plan: String,
    pub shard: Option<String>,
    pub sql: Option<String>,
}

impl PlanLine {
    /// The operator indented by its depth.
    pub fn label(&self) -> String {
        format!("{:width$}{}", "", self.operator, width = 2 * self.depth)
    }
}

impl PlanTree {
    /// The tree of `plan`.
    pub fn of(plan: &Plan, topology: &Topology) -> PlanTree {
        let mut builder = Builder {
            topology,
            lines: Vec::new(),
        };
        builder.plan(plan, 0, Some(kind_name(plan.kind)), None);
        PlanTree {
            lines: builder.lines,
        }
    }

    /// Rows for a client, the lines sending the client's text as written showing `statement`.
    pub fn rows(&self, topology: &Topology, statement: &str) -> Vec<PlanRow> {
        self.lines
            .iter()
            .map(|line| PlanRow {
                plan: line.label(),
                shard: line.shard.map(|s| topology.shards[s].name.clone()),
                sql: line
                    .sql
                    .clone()
                    .or_else(|| line.shard.map(|_| statement.to_owned())),
            })
            .collect()
    }
}

impl fmt::Display for PlanTree {
    /// One line per operator; the text a line sends follows it as `: \`…\``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, line) in self.lines.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            f.write_str(&line.label())?;
            // A line break in the text shows as `\n`: one line per operator.
            if let Some(sql) = &line.sql {
                write!(f, ": `{}`", sql.replace('\n', "\\n"))?;
            }
        }
        Ok(())
    }
}

fn kind_name(kind: StatementKind) -> &'static str {
    match kind {
        StatementKind::Read => "read",
        StatementKind::LockingRead => "locking read",
        StatementKind::Write => "write",
        StatementKind::Ddl => "ddl",
        StatementKind::Session => "session",
        StatementKind::Transaction => "transaction",
    }
}

struct Builder<'t> {
    topology: &'t Topology,
    lines: Vec<PlanLine>,
}

impl Builder<'_> {
    fn name(&self, shard: ShardId) -> &str {
        &self.topology.shards[shard].name
    }

    fn names(&self, shards: impl IntoIterator<Item = ShardId>) -> String {
        let names: Vec<&str> = shards.into_iter().map(|s| self.name(s)).collect();
        names.join(", ")
    }

    fn line(&mut self, depth: usize, operator: String) {
        self.lines.push(PlanLine {
            depth,
            operator,
            shard: None,
            sql: None,
        });
    }

    fn route(&mut self, depth: usize, shard: ShardId, sql: Option<String>) {
        let operator = format!("Route {}", self.name(shard));
        self.lines.push(PlanLine {
            depth,
            operator,
            shard: Some(shard),
            sql,
        });
    }

    /// `plan` at `depth`, its first line prefixed `kind → ` when given; `sql`: the text it
    /// runs when not the client's statement (a set operation's branch).
    fn plan(&mut self, plan: &Plan, depth: usize, kind: Option<&str>, sql: Option<&str>) {
        let head = self.head(plan);
        let first = self.lines.len();
        let prefix = kind.map_or_else(String::new, |k| format!("{k} → "));
        let suffix = suffix(plan, self.topology);
        self.line(depth, format!("{prefix}{head}{suffix}"));
        // The text sent: the proxy's rewrite, or a branch's own text; `None`: the client's.
        let as_written = || plan.rewritten.clone().or_else(|| sql.map(str::to_owned));
        match &plan.route {
            Route::Shard(shard) => {
                self.lines[first].shard = Some(*shard);
                self.lines[first].sql = as_written();
            }
            Route::AllShards => {
                for shard in 0..self.topology.shards.len() {
                    self.route(depth + 1, shard, as_written());
                }
            }
            Route::Broadcast(shards) | Route::Copies(shards) => {
                for shard in shards {
                    self.route(depth + 1, *shard, as_written());
                }
            }
            Route::Split(parts) => {
                for (shard, sql) in parts {
                    self.route(depth + 1, *shard, Some(sql.clone()));
                }
            }
            Route::Scatter(scatter) => self.scatter(scatter, depth + 1),
            Route::SetOperation(set) => self.set_operation(set, depth + 1),
            Route::Materialize(m) => self.materialize(m, depth + 1),
            Route::Join(j) => self.join(j, depth + 1),
            Route::Explain(explained) => self.plan(
                &explained.plan,
                depth + 1,
                Some(kind_name(explained.plan.kind)),
                None,
            ),
            _ => {}
        }
    }

    /// The first line of a plan, after its kind.
    fn head(&self, plan: &Plan) -> String {
        match &plan.route {
            Route::Shard(id) => format!("shard {}", self.name(*id)),
            Route::AllShards => format!(
                "all shards [{}]",
                self.names(0..self.topology.shards.len())
            ),
            Route::Use(db) => format!("proxy: use database `{db}`"),
            Route::Set { vars, globals, .. } => {
                let names: Vec<_> = vars.iter().map(|v| v.name.as_str()).collect();
                let mut head = format!("proxy: session variables [{}]", names.join(", "));
                if *globals {
                    head += &format!(
                        "; global values on every primary [{}], the default shard last (admin users; others lack SUPER)",
                        self.names(0..self.topology.shards.len())
                    );
                }
                head
            }
            Route::Transaction(t) => format!("proxy: {t}"),
            Route::SetConsistency(c) => format!(
                "proxy: session consistency {}",
                c.map_or("default", |c| c.as_str())
            ),
            Route::Split(parts) => format!(
                "split across shards [{}], all or nothing",
                self.names(parts.iter().map(|(s, _)| *s))
            ),
            Route::Scatter(s) => format!("scatter to [{}]", self.names(s.shards.iter().copied())),
            Route::SetOperation(_) => "set operation across shards".to_owned(),
            Route::Materialize(m) => format!(
                "materialize: the statement runs on {} over copies of its sharded tables",
                self.name(m.compute_shard)
            ),
            Route::Join(j) => format!(
                "join across shards in the proxy: `{}` and `{}` (a transaction, binary rows or a result not in UTF-8: from copies on {})",
                j.outer.table,
                j.inner.table,
                self.name(j.fallback.compute_shard)
            ),
            Route::Broadcast(shards) => format!(
                "every shard of [{}], all or nothing",
                self.names(shards.iter().copied())
            ),
            Route::Copies(shards) => format!(
                "every copy on [{}]",
                self.names(shards.iter().copied())
            ),
            Route::Kill(kill) => {
                let what = if kill.query_only {
                    "QUERY"
                } else {
                    "CONNECTION"
                };
                match &kill.target {
                    crate::KillTarget::Id(id) => format!("proxy: KILL {what} {id}"),
                    crate::KillTarget::Own => format!("proxy: KILL {what} CONNECTION_ID()"),
                    crate::KillTarget::Expression(e) => {
                        format!("proxy: KILL {what} of the id {e}(evaluated on the default shard)")
                    }
                }
            }
            Route::ProcessList { full } => format!(
                "proxy: the proxy's client sessions{}",
                if *full { " (full)" } else { "" }
            ),
            Route::EveryPrimary { privilege } => format!(
                "every primary [{}], the default shard first (admin users; others lack {privilege})",
                self.names(0..self.topology.shards.len())
            ),
            Route::Deferred(d) => {
                let keys: Vec<String> = d.keys.iter().map(|(t, k)| format!("{t} {k}")).collect();
                let mut head = format!("shard of [{}]", keys.join(", "));
                if let Some(shard) = d.fixed {
                    head += &format!(" (must be {})", self.name(shard));
                }
                head
            }
            Route::StoredProgram { elsewhere } => format!(
                "every shard [{}] in turn, the default shard first{}",
                self.names(0..self.topology.shards.len()),
                elsewhere
                    .as_ref()
                    .map(|e| format!(" (the others: `{e}`)"))
                    .unwrap_or_default()
            ),
            Route::Explain(_) => "proxy: EXPLAIN, the plan below".to_owned(),
            Route::Maintenance(kind) => format!(
                "every shard [{}], {}",
                self.names(0..self.topology.shards.len()),
                match kind {
                    crate::Maintenance::Checksum => {
                        "a sharded table's checksum the shards' sum (modulo 2^32), a reference table's the default shard's"
                    }
                    crate::Maintenance::Report => "each distinct report row once, by table",
                }
            ),
        }
    }

    /// The merge's operators, outermost first, over the shards' routes.
    fn scatter(&mut self, scatter: &ScatterPlan, mut depth: usize) {
        for operator in merge_operators(&scatter.merge, scatter.origins.len()) {
            self.line(depth, operator);
            depth += 1;
        }
        for (i, shard) in scatter.shards.iter().enumerate() {
            self.route(depth, *shard, Some(scatter.sql_for(i).to_owned()));
        }
    }

    /// Each copy's reads on its shards (its column list is read from the server when it
    /// runs), then the client's statement on the compute shard. Over the rows of derived
    /// tables, when it may: each one's plan, the copies still needed, the statement naming
    /// them; then what runs instead when it may not.
    fn materialize(&mut self, plan: &MaterializePlan, depth: usize) {
        let into = self.name(plan.compute_shard).to_owned();
        let Some(over) = &plan.over_derived else {
            self.copies(&plan.copies, plan.compute_shard, depth, |_| None);
            self.route(depth, plan.compute_shard, None);
            return;
        };
        for derived in &over.derived {
            self.line(
                depth,
                format!(
                    "Copy the rows of {} `{}` into temporary table {} on {into}",
                    if derived.cte { "CTE" } else { "derived table" },
                    derived.alias,
                    derived.table
                ),
            );
            self.plan(&derived.plan, depth + 1, None, Some(&derived.select));
        }
        let narrowed = |n: usize| {
            let narrowing = over.narrowings.iter().find(|x| x.copy == n)?;
            Some(format!(
                ", only rows whose `{}` is a `{}` of `{}` (both integers)",
                narrowing.column, narrowing.derived_column, over.derived[narrowing.derived].alias
            ))
        };
        self.copies(&over.copies, plan.compute_shard, depth, narrowed);
        self.route(depth, plan.compute_shard, Some(over.sql.clone()));
        let names: Vec<String> = plan.copies.iter().map(TableCopy::quoted_name).collect();
        self.line(
            depth,
            format!(
                "Instead, for rows that would not travel exactly: copies of {} on {into}, the statement as written",
                names.join(", ")
            ),
        );
    }

    /// Each copy's reads on its shards, into temporary tables on `compute`; `narrowed` says
    /// how a copy's rows are narrowed when it runs.
    fn copies(
        &mut self,
        copies: &[TableCopy],
        compute: ShardId,
        depth: usize,
        narrowed: impl Fn(usize) -> Option<String>,
    ) {
        for (n, copy) in copies.iter().enumerate() {
            let name = copy.quoted_name();
            let into = self.name(compute).to_owned();
            let narrowed = narrowed(n).unwrap_or_default();
            self.line(
                depth,
                format!("Copy {name} into a temporary table on {into}{narrowed}"),
            );
            let filter = (copy.filter.as_ref()).map_or_else(String::new, |f| format!(" WHERE {f}"));
            let read = format!("SELECT <its columns> FROM {name}{filter}");
            for shard in &copy.shards {
                self.route(depth + 1, *shard, Some(read.clone()));
            }
        }
    }

    /// The join's operators (grouping; projection, limit, sort), the join, then the outer
    /// side's routes and the inner side's.
    fn join(&mut self, plan: &JoinPlan, mut depth: usize) {
        if let Some(grouping) = &plan.grouping {
            let mut operators = merge_operators(grouping, plan.output.len());
            // The joined rows arrive in no order: sorted by the groups, not merged.
            operators.pop();
            if !grouping.merge_keys.is_empty() {
                operators.push(format!("Sort {}", sort_keys(&grouping.merge_keys)));
            }
            for operator in operators {
                self.line(depth, operator);
                depth += 1;
            }
        }
        let identity = plan.output.iter().enumerate().all(|(i, &c)| i == c)
            && plan.output.len() == plan.outer.width + plan.inner.width;
        if !identity {
            let columns: Vec<String> = plan.output.iter().map(|c| format!("#{c}")).collect();
            self.line(depth, format!("Project {}", columns.join(", ")));
            depth += 1;
        }
        if plan.offset > 0 || plan.limit.is_some() {
            self.line(depth, limit(plan.offset, plan.limit));
            depth += 1;
        }
        if !plan.order_by.is_empty() {
            let keys: Vec<String> = (plan.order_by.iter())
                .map(|(c, desc)| format!("#{c}{}", if *desc { " DESC" } else { "" }))
                .collect();
            self.line(depth, format!("Sort {}", keys.join(", ")));
            depth += 1;
        }
        let kind = match plan.kind {
            shardgate_merge::JoinKind::Inner => "inner",
            shardgate_merge::JoinKind::Left => "left",
            shardgate_merge::JoinKind::Semi => "semi",
            shardgate_merge::JoinKind::Anti => "anti",
        };
        let keys: Vec<String> = (plan.outer.keys.iter().zip(&plan.inner.keys))
            .map(|(o, i)| format!("#{o} = #{}", plan.outer.width + i))
            .collect();
        let head = match plan.strategy {
            JoinStrategy::BatchedLookup => format!(
                "Join {kind} (batched lookup on {}, {LOOKUP_BATCH} outer rows a batch) on {}",
                plan.inner.key_column,
                keys.join(" AND ")
            ),
            JoinStrategy::Hash => format!(
                "HashJoin {kind} on {} (build: `{}`, probe: `{}`)",
                keys.join(" AND "),
                plan.inner.table,
                plan.outer.table
            ),
        };
        self.line(depth, head);
        let outer = plan.outer.sql();
        for shard in &plan.outer.shards {
            self.route(depth + 1, *shard, Some(outer.clone()));
        }
        let inner = match plan.strategy {
            JoinStrategy::BatchedLookup => {
                plan.inner.lookup_sql("<the batch's keys on this shard>")
            }
            JoinStrategy::Hash => plan.inner.sql(),
        };
        for shard in &plan.inner.shards {
            self.route(depth + 1, *shard, Some(inner.clone()));
        }
    }

    fn set_operation(&mut self, set: &SetOperationPlan, mut depth: usize) {
        let top = depth;
        if set.offset > 0 || set.limit.is_some() {
            self.line(depth, limit(set.offset, set.limit));
            depth += 1;
        }
        if !set.order_by.is_empty() {
            let keys: Vec<String> = set
                .order_by
                .iter()
                .map(|k| {
                    let column = match &k.target {
                        OrderTarget::Position(n) => n.to_string(),
                        OrderTarget::Name(name) => format!("`{name}`"),
                    };
                    format!("{column}{}", if k.descending { " DESC" } else { "" })
                })
                .collect();
            self.line(depth, format!("Sort {}", keys.join(", ")));
            depth += 1;
        }
        self.set_node(&set.tree, depth);
        let operator = format!("Columns from {}", self.name(set.metadata_shard));
        self.lines.push(PlanLine {
            depth: top,
            operator,
            shard: Some(set.metadata_shard),
            sql: Some(set.metadata_sql.clone()),
        });
    }

    fn set_node(&mut self, node: &SetNode, depth: usize) {
        match node {
            SetNode::Branch { sql, plan } => self.plan(plan, depth, None, Some(sql.as_str())),
            SetNode::Combine {
                op,
                all,
                left,
                right,
            } => {
                let quantifier = if *all { "all" } else { "distinct" };
                self.line(depth, format!("{op}({quantifier})"));
                self.set_node(left, depth + 1);
                self.set_node(right, depth + 1);
            }
        }
    }
}

/// What follows a plan's first line: a rewritten text, why it is pinned, state it leaves on
/// its connection, its lookups.
fn suffix(plan: &Plan, topology: &Topology) -> String {
    let mut out = String::new();
    if let (Some(sql), Route::Deferred(_)) = (&plan.rewritten, &plan.route) {
        out += &format!(" as `{sql}`");
    }
    if let Some(pinned_by) = &plan.pinned_by {
        let what = match plan.route {
            Route::Scatter(_) | Route::Broadcast(_) | Route::Split(_) => {
                "each shard's subqueries follow its rows"
            }
            _ => "pushed down whole",
        };
        out += &format!("; {what}: {}", pinned_by.join("; "));
    }
    if let Some(state) = &plan.connection_state {
        out += &format!("; connection state: {}", connection_state(state, topology));
    }
    if let Some(lookup) = &plan.lookup {
        out += &format!("; {lookup}");
    }
    out
}

/// What a statement does to the state kept on its connection.
fn connection_state(state: &ConnectionState, topology: &Topology) -> String {
    let quoted = |names: &Vec<String>| {
        let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        names.join(", ")
    };
    match state {
        ConnectionState::CreatesTemporaryTable(name) => format!("creates temporary table `{name}`"),
        ConnectionState::DropsTables(names) => {
            format!("drops tables {} (temporary ones kept)", quoted(names))
        }
        ConnectionState::LocksTables { shards, others_sql } => {
            let names: Vec<&str> = shards
                .iter()
                .map(|s| topology.shards[*s].name.as_str())
                .collect();
            let mut out = format!("locks tables on [{}]", names.join(", "));
            if let Some(sql) = others_sql {
                out += &format!(", other shards than the default one running `{sql}`");
            }
            out
        }
        ConnectionState::UnlocksTables => "unlocks tables".to_owned(),
        ConnectionState::NamedLocks(calls) => {
            let mut parts = Vec::new();
            if !calls.acquires.is_empty() {
                let names: Vec<String> = calls.acquires.iter().map(|n| format!("'{n}'")).collect();
                parts.push(format!("takes named locks {}", names.join(", ")));
            }
            if calls.acquires_unnamed {
                parts.push("takes a named lock named by an expression".to_owned());
            }
            if calls.releases_all {
                parts.push("releases every named lock".to_owned());
            } else if calls.releases {
                parts.push("releases named locks".to_owned());
            }
            if parts.is_empty() {
                parts.push("reads named locks".to_owned());
            }
            parts.join(", ")
        }
        ConnectionState::Handler { name, action } => {
            let action = match action {
                HandlerAction::Open => "opens",
                HandlerAction::Read => "reads",
                HandlerAction::Close => "closes",
            };
            format!("{action} handler `{name}`")
        }
    }
}

/// The merge's operators from the outermost in: the order the rows leave them reversed.
/// `width`: how many columns each shard sends.
fn merge_operators(merge: &MergeSpec, width: usize) -> Vec<String> {
    let mut operators = Vec::new();
    let produced = merge
        .aggregate
        .as_ref()
        .map_or(width, |spec| spec.outputs.len());
    if merge.visible < produced {
        operators.push(format!("Project first {} columns", merge.visible));
    }
    if merge.offset > 0 || merge.limit.is_some() {
        operators.push(limit(merge.offset, merge.limit));
    }
    if !merge.sort.is_empty() {
        operators.push(format!("Sort {}", sort_keys(&merge.sort)));
    }
    if merge.distinct {
        operators.push(if merge.visible < produced {
            format!("Distinct on first {} columns", merge.visible)
        } else {
            "Distinct".to_owned()
        });
    }
    if let Some(having) = &merge.having {
        operators.push(format!("Filter {having}"));
    }
    if let Some(spec) = &merge.aggregate {
        if !spec.computed.is_empty() {
            let computed: Vec<String> = (spec.computed.iter())
                .map(|(output, e)| format!("#{output} = {e}"))
                .collect();
            operators.push(format!("Project computing {}", computed.join(", ")));
        }
    }
    if let Some(window) = &merge.window {
        let functions: Vec<String> = (window.functions.iter())
            .map(|(c, f)| format!("#{c} = {}", window_function(f)))
            .collect();
        let mut over = Vec::new();
        if !window.partition_by.is_empty() {
            over.push(format!("partition by {}", columns(&window.partition_by)));
        }
        if !window.order_by.is_empty() {
            over.push(format!("order by {}", sort_keys(&window.order_by)));
        }
        let over = if over.is_empty() {
            "all rows".to_owned()
        } else {
            over.join(" ")
        };
        operators.push(format!("Window over {over}: {}", functions.join(", ")));
    }
    if let Some(spec) = &merge.aggregate {
        let outputs: Vec<String> = (spec.outputs.iter().enumerate())
            .map(|(i, output)| {
                let name = spec.names.get(i).map_or("", String::as_str);
                format!("`{name}` = {}", aggregate(output))
            })
            .collect();
        let groups = if spec.group_by.is_empty() {
            "one group".to_owned()
        } else {
            let columns: Vec<String> = spec.group_by.iter().map(|c| format!("#{c}")).collect();
            format!("group by {}", columns.join(", "))
        };
        let rollup = if spec.rollup { " with rollup" } else { "" };
        operators.push(format!(
            "Aggregate {groups}{rollup}: {}",
            outputs.join(", ")
        ));
    }
    operators.push(if merge.merge_keys.is_empty() {
        "Concatenate".to_owned()
    } else {
        format!("MergeSort {}", sort_keys(&merge.merge_keys))
    });
    operators
}

fn limit(offset: u64, count: Option<u64>) -> String {
    match count {
        Some(n) => format!("Limit offset {offset} count {n}"),
        None => format!("Limit offset {offset}"),
    }
}

fn sort_keys(keys: &[SortKey]) -> String {
    let keys: Vec<String> = keys
        .iter()
        .map(|k| format!("#{}{}", k.column, if k.descending { " DESC" } else { "" }))
        .collect();
    keys.join(", ")
}

fn columns(columns: &[usize]) -> String {
    let columns: Vec<String> = columns.iter().map(|c| format!("#{c}")).collect();
    columns.join(", ")
}

fn window_function(function: &WindowFunction) -> String {
    match function {
        WindowFunction::RowNumber => "row_number()".to_owned(),
        WindowFunction::Rank => "rank()".to_owned(),
        WindowFunction::DenseRank => "dense_rank()".to_owned(),
        WindowFunction::Aggregate(a) => aggregate(a),
        WindowFunction::Lag { column, offset } => format!("lag(#{column}, {offset})"),
        WindowFunction::Lead { column, offset } => format!("lead(#{column}, {offset})"),
        WindowFunction::Ntile(n) => format!("ntile({n})"),
        WindowFunction::FirstValue(c) => format!("first_value(#{c})"),
        WindowFunction::LastValue(c) => format!("last_value(#{c})"),
        WindowFunction::NthValue { column, n } => format!("nth_value(#{column}, {n})"),
        WindowFunction::PercentRank => "percent_rank()".to_owned(),
        WindowFunction::CumeDist => "cume_dist()".to_owned(),
        WindowFunction::FramedAggregate {
            aggregate: a,
            frame,
        } => {
            let bound = |offset: Option<i64>, unbounded: &str| match offset {
                None => format!("unbounded {unbounded}"),
                Some(0) => "current row".to_owned(),
                Some(n) if n < 0 => format!("{} preceding", -n),
                Some(n) => format!("{n} following"),
            };
            format!(
                "{} over rows between {} and {}",
                aggregate(a),
                bound(frame.start, "preceding"),
                bound(frame.end, "following")
            )
        }
    }
}

/// How one output column is computed from the shard columns (`#i`).
fn aggregate(output: &Aggregate) -> String {
    match output {
        Aggregate::First(c) => format!("#{c}"),
        Aggregate::Count(c) => format!("sum of counts #{c}"),
        Aggregate::CountValues(c) => format!("count(#{c})"),
        Aggregate::CountRows => "count(*)".to_owned(),
        Aggregate::Sum(c) => format!("sum of sums #{c}"),
        Aggregate::SumValues(c) => format!("sum(#{c})"),
        Aggregate::Min(c) => format!("min(#{c})"),
        Aggregate::Max(c) => format!("max(#{c})"),
        Aggregate::Avg { sum, count } => format!("sum of sums #{sum} / sum of counts #{count}"),
        Aggregate::AvgValues(c) => format!("avg(#{c})"),
        Aggregate::CountDistinct(cs) => format!("count(distinct {})", columns(cs)),
        Aggregate::SumDistinct(c) => format!("sum(distinct #{c})"),
        Aggregate::AvgDistinct(c) => format!("avg(distinct #{c})"),
        Aggregate::Bit { op, column } => {
            let op = match op {
                BitOp::And => "bit_and",
                BitOp::Or => "bit_or",
                BitOp::Xor => "bit_xor",
            };
            format!("{op}(#{column})")
        }
        Aggregate::Variance { kind, column } => format!("{}(#{column})", variance(*kind)),
        Aggregate::VarianceParts {
            kind,
            count,
            sum,
            pop_variance,
            ..
        } => format!(
            "{} from counts #{count}, sums #{sum}, var_pop #{pop_variance}",
            variance(*kind)
        ),
        Aggregate::GroupConcat(spec) => {
            let mut out = format!(
                "group_concat({}{}",
                if spec.distinct { "distinct " } else { "" },
                columns(&spec.args)
            );
            if !spec.order.is_empty() {
                out += &format!(" order by {}", sort_keys(&spec.order));
            }
            out += &format!(" separator '{}')", String::from_utf8_lossy(&spec.separator));
            out
        }
    }
}

fn variance(kind: VarianceKind) -> &'static str {
    match kind {
        VarianceKind::Population => "var_pop",
        VarianceKind::Sample => "var_samp",
        VarianceKind::PopulationStddev => "stddev_pop",
        VarianceKind::SampleStddev => "stddev_samp",
    }
}

#[cfg(test)]
mod tests {
    use crate::{plan_sql, Syntax};

    fn shown(sql: &str) -> String {
        let text = include_str!("../tests/golden/topology.toml");
        let t = shardgate_config::parse(text, "topology.toml").expect("golden topology");
        match plan_sql(sql, &t, Syntax::DEFAULT) {
            Ok(plan) => plan.display(&t).to_string(),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn a_scatter_prints_its_merge_over_each_shard_s_text() {
        let s = shown("SELECT name, COUNT(*) FROM users GROUP BY name ORDER BY 2 DESC LIMIT 3");
        let lines: Vec<&str> = s.lines().collect();
        assert!(
            lines[0].starts_with("read → scatter to [s0, s1, s2]"),
            "{s}"
        );
        assert!(lines[1].starts_with("  Limit offset 0 count 3"), "{s}");
        assert!(lines[2].starts_with("    Sort #1 DESC"), "{s}");
        assert!(lines[3].starts_with("      Aggregate group by #0"), "{s}");
        assert!(s.contains("`COUNT(*)` = sum of counts #1"), "{s}");
        assert!(lines[4].starts_with("        MergeSort #0"), "{s}");
        assert!(lines[5].starts_with("          Route s0: `SELECT "), "{s}");
        assert_eq!(lines.len(), 8, "{s}");
        assert!(!s.contains("MergeSpec") && !s.contains("Some("), "{s}");
    }

    #[test]
    fn one_shard_is_one_line() {
        assert_eq!(shown("SELECT * FROM users WHERE id = 7"), "read → shard s1");
    }

    #[test]
    fn writes_on_several_shards_list_each_shard() {
        let s = shown("INSERT INTO users (id, name) VALUES (7, 'a'), (2, 'b')");
        assert!(
            s.starts_with("write → split across shards [s1, s2], all or nothing"),
            "{s}"
        );
        assert!(
            s.contains("\n  Route s1: `INSERT INTO users (id, name) VALUES (7, 'a')`"),
            "{s}"
        );
        let s = shown("UPDATE users SET name = 'x' WHERE name = 'y'");
        assert_eq!(
            s,
            "write → every shard of [s0, s1, s2], all or nothing\n  Route s0\n  Route s1\n  Route s2"
        );
    }

    #[test]
    fn a_set_operation_nests_its_branches() {
        let s = shown("SELECT id FROM users WHERE id = 7 UNION ALL SELECT id FROM users WHERE id = 2 ORDER BY 1 DESC LIMIT 3");
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "read → set operation across shards", "{s}");
        assert_eq!(lines[1], "  Limit offset 0 count 3", "{s}");
        assert_eq!(lines[2], "    Sort 1 DESC", "{s}");
        assert_eq!(lines[3], "      Union(all)", "{s}");
        assert_eq!(
            lines[4], "        shard s1: `SELECT id FROM users WHERE id = 7`",
            "{s}"
        );
        assert!(
            lines[6].starts_with("  Columns from s0: `SELECT id FROM users WHERE 0"),
            "{s}"
        );
    }
}
