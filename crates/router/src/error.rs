//! Why a statement cannot be routed.

use shardgate_ring::RingError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The parser does not understand the statement, and it names sharded table `table`.
    #[error("shardgate cannot parse this statement on sharded table `{table}`: {message}")]
    Unparsed { table: String, message: String },
    /// The parser does not understand the statement; it names no sharded table.
    #[error("{0}")]
    Syntax(String),
    #[error("cannot route {verb} on sharded table `{table}`: no shard key `{key}` in the WHERE clause; add `{key} = <value>` (or `{key} IN (...)` of values on one shard)")]
    NoShardKey {
        verb: &'static str,
        table: String,
        key: String,
    },
    /// `INSERT INTO t VALUES …` without a column list: the session looks the columns up and
    /// plans again (`with_column_list`).
    #[error("cannot route INSERT into `{table}` without a column list: shardgate could not read the table's columns")]
    InsertWithoutColumns { table: String },
    /// The plan needs the columns of `tables` (lower-cased), which the schema cache does not
    /// hold: the session reads them from the shards and plans again.
    #[error("shardgate does not know the columns of table(s) {}: its schema cache has not read them", .tables.join(", "))]
    SchemaNeeded { tables: Vec<String> },
    /// The statement names a table the config neither shards nor copies, which may be a view
    /// over sharded tables, and the views are not known (before the first load, after DDL):
    /// the session reads them and plans again.
    #[error("shardgate could not read the views of the default shard, and this statement may name one over sharded tables (whose rows the default shard holds only part of)")]
    ViewsNeeded,
    /// The statement reads views over sharded tables: the session runs this text, each view
    /// written as its definition (a derived table, `views.rs`).
    #[error("views over sharded tables read as their definitions: `{0}`")]
    ReadsViews(String),
    /// The schema cache says the shards define `tables` differently: the session reads them
    /// again (the cache may be older than the shards) and plans again; still so, `refusal`.
    #[error("{refusal}")]
    SchemaDisagrees {
        tables: Vec<String>,
        refusal: Box<RouteError>,
    },
    /// An INSERT leaving a table's auto_increment column to the proxy: the session reserves
    /// ids from its sequence and plans the text with them written in ([`GeneratedIds::fill`]).
    #[error("INSERT into sharded table `{}` needs ids from sequence {} for `{}`", .0.table, .0.auto_increment.sequence, .0.auto_increment.column)]
    InsertNeedsIds(Box<crate::GeneratedIds>),
    /// An INSERT … SELECT into a table with lookups or generated ids: the session runs the
    /// SELECT and inserts its rows as VALUES ([`InsertFromSelect::with_rows`]).
    #[error("INSERT … SELECT into `{}` is run by rows: its SELECT first, then an INSERT of the rows", .0.table)]
    InsertFromSelect(Box<crate::InsertFromSelect>),
    /// A CREATE TABLE … SELECT across shards into a table of the default shard: the session
    /// creates the table, then fills it by rows ([`crate::CreateFromSelect`]).
    #[error("{}", .0)]
    CreateFromSelect(Box<crate::CreateFromSelect>),
    /// An UPDATE / DELETE whose `IN` subqueries no shard answers alone: the session runs them
    /// first and plans the text with their values written in ([`SubqueriesFirst::with_values`]).
    #[error("{} with subqueries is run after its subqueries, their values written in", .0.verb)]
    SubqueriesFirst(Box<crate::SubqueriesFirst>),
    /// A `SELECT … INTO @v` no shard answers alone: the session runs its SELECT and sets the
    /// variables to its one row ([`crate::IntoVariables`]).
    #[error("SELECT … INTO {} is run as its SELECT, the variables set to its row", .0.vars.join(", "))]
    IntoVariables(Box<crate::IntoVariables>),
    /// A SELECT assigning user variables in its select list that no shard answers alone: the
    /// session runs it without the assignments and sets the variables to the rows' values
    /// ([`crate::AssigningSelect`]).
    #[error("{}", .0)]
    AssigningSelect(Box<crate::AssigningSelect>),
    /// An UPDATE / DELETE with LIMIT whose rows may lie on several shards: the session reads
    /// the rows it changes first and writes exactly them ([`LimitedWrite::with_rows`]).
    #[error("{}", .0)]
    LimitedWrite(Box<crate::LimitedWrite>),
    #[error("cannot route INSERT into sharded table `{table}`: its rows belong to different shards ({shards}); insert them separately")]
    InsertSpansShards { table: String, shards: String },
    #[error("cannot route {verb} on sharded table `{table}`: the values of `{key}` belong to different shards ({shards})")]
    KeySpansShards {
        verb: &'static str,
        table: String,
        key: String,
        shards: String,
    },
    #[error("cannot change shard key `{key}` of sharded table `{table}` {how}")]
    ShardKeyUpdate {
        table: String,
        key: String,
        /// The construct, and what to do instead.
        how: &'static str,
    },
    /// An UPDATE that changes the shard key of its rows: the session reads the rows first,
    /// updates them where they are and moves those whose key now belongs to another shard
    /// ([`crate::MovingUpdate`]).
    #[error("{}", .0)]
    MovingUpdate(Box<crate::MovingUpdate>),
    /// An INSERT whose shard key is `LAST_INSERT_ID()` (a child row of the row inserted just
    /// before): the session writes its value in ([`crate::with_last_insert_id_keys`]) and plans
    /// the text again.
    #[error("cannot route INSERT into sharded table `{table}`: its shard key `{key}` is LAST_INSERT_ID(), which the proxy routes by the session's value except in a statement that also sets it (LAST_INSERT_ID(expr))")]
    KeyFromLastInsertId { table: String, key: String },
    /// An INSERT's shard key given by an expression (`message` says which): the planner
    /// computes one of constants first (`key_expression.rs`), else this is the refusal.
    #[error("{message}")]
    KeyExpression { message: String },
    #[error("statement joins tables on different shards ({detail}); cross-shard joins are not supported")]
    CrossShard { detail: String },
    #[error("{construct} on sharded table `{table}` is not supported by shardgate")]
    Unsupported { construct: String, table: String },
    #[error("{0}")]
    NotSupported(String),
    /// `SET STATEMENT … FOR` an `EXECUTE` (or another statement the session runs itself, see
    /// `sql_prepare`): the session runs it, the statement starting at byte `inner`.
    #[error("SET STATEMENT … FOR a PREPARE, EXECUTE or DEALLOCATE PREPARE is run by the client's session")]
    SqlPreparedUnderSetStatement { inner: usize },
    /// `SET GLOBAL` of a variable that has only a session value (the proxy's own).
    #[error("Variable '{0}' is a SESSION variable and can't be used with SET GLOBAL")]
    SessionOnly(String),
    #[error(
        "statement too complex for shardgate: {operators} chained operators (the limit is {limit})"
    )]
    TooComplex { operators: usize, limit: usize },
    #[error("shard key `{key}` of table `{table}`: {source}")]
    BadKey {
        table: String,
        key: String,
        #[source]
        source: Box<RingError>,
    },
}

impl RouteError {
    /// For a statement the session runs in steps (ids reserved first, an INSERT … SELECT by
    /// rows, subqueries first, a limited write's rows first): what the steps are.
    pub fn steps(&self) -> Option<String> {
        self.step_request().map(ToString::to_string)
    }

    /// The request a statement run in steps carries (see [`RouteError::steps`]), unrendered.
    pub fn step_request(&self) -> Option<&dyn std::fmt::Display> {
        match self {
            RouteError::InsertNeedsIds(ids) => Some(ids),
            RouteError::InsertFromSelect(request) => Some(request),
            RouteError::CreateFromSelect(request) => Some(request),
            RouteError::SubqueriesFirst(request) => Some(request),
            RouteError::IntoVariables(request) => Some(request),
            RouteError::AssigningSelect(request) => Some(request),
            RouteError::LimitedWrite(request) => Some(request),
            RouteError::MovingUpdate(request) => Some(request),
            RouteError::ReadsViews(_) => Some(self),
            _ => None,
        }
    }

    /// Whether the session answers it by running texts it writes from the statement's (with
    /// columns, ids, values or rows written in) rather than refusing it.
    pub fn runs_in_steps(&self) -> bool {
        self.step_request().is_some()
            || matches!(
                self,
                RouteError::InsertWithoutColumns { .. }
                    | RouteError::KeyFromLastInsertId { .. }
                    | RouteError::SqlPreparedUnderSetStatement { .. }
            )
    }
}
