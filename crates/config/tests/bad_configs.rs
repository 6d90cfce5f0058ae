//! One test per kind of broken config: each pins the line, key and message reported.

mod common;

use common::{assert_problems, base_with, problems, BASE};

#[test]
fn base_config_is_valid() {
    assert_problems(BASE, &[]);
}

#[test]
fn toml_syntax_error_names_its_line() {
    let text = base_with("name = \"s1\"", "name = \"s1");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("t.toml:19: TOML syntax error: "),
        "{found:?}"
    );
}

#[test]
fn duplicate_key_is_a_syntax_error() {
    let text = base_with(
        "primary = \"127.0.0.1:3320\"",
        "primary = \"127.0.0.1:3320\"\nprimary = \"127.0.0.1:3330\"",
    );
    assert_problems(&text, &["t.toml:21: TOML syntax error: duplicate key"]);
}

#[test]
fn duplicate_shard_names() {
    assert_problems(
        &base_with("name = \"s1\"", "name = \"s0\""),
        &["t.toml:19: shards[1].name: duplicate shard name \"s0\" (first defined on line 14)"],
    );
}

#[test]
fn duplicate_table_names_ignore_case() {
    assert_problems(
        &base_with("name = \"orders\"", "name = \"USERS\""),
        &["t.toml:27: tables[1].name: duplicate table \"USERS\" (first defined on line 23; table names are case-insensitive)"],
    );
}

#[test]
fn table_without_shard_key() {
    assert_problems(
        &base_with("shard_key = \"user_id\"\n", ""),
        &["t.toml:26: tables[1].shard_key: missing shard_key: the column whose value picks the shard"],
    );
}

#[test]
fn table_with_empty_shard_key() {
    assert_problems(
        &base_with("shard_key = \"user_id\"", "shard_key = \" \""),
        &["t.toml:28: tables[1].shard_key: empty shard_key: name the column whose value picks the shard"],
    );
}

#[test]
fn unknown_strategy() {
    assert_problems(
        &base_with("strategy = \"consistent_hash\"", "strategy = \"consistent\""),
        &["t.toml:29: tables[1].strategy: unknown strategy \"consistent\" (expected \"consistent_hash\", \"hash_mod\" or \"range\")"],
    );
}

#[test]
fn unknown_shard_key_type() {
    assert_problems(
        &format!("{BASE}shard_key_type = \"int\"\n"),
        &["t.toml:30: tables[1].shard_key_type: unknown shard_key_type \"int\" (expected \"integer\" or \"string\")"],
    );
}

#[test]
fn shard_key_collation_of_an_integer_key_or_unknown() {
    assert_problems(
        &format!("{BASE}shard_key_collation = \"utf8mb4_unicode_ci\"\n"),
        &["t.toml:30: tables[1].shard_key_collation: shard_key_collation is for string shard keys (shard_key_type = \"string\")"],
    );
    assert_problems(
        &format!("{BASE}shard_key_type = \"string\"\nshard_key_collation = \"latin1_swedish_ci\"\n"),
        &["t.toml:31: tables[1].shard_key_collation: unknown shard_key_collation \"latin1_swedish_ci\" (expected \"utf8mb4_general_ci\" or \"utf8mb4_unicode_ci\", the collation of the key column; a *_bin column works with either)"],
    );
}

#[test]
fn ranges_on_a_hash_table() {
    assert_problems(
        &format!("{BASE}ranges = [ {{ shard = \"s0\" }} ]\n"),
        &["t.toml:30: tables[1].ranges: ranges are only for strategy = \"range\" (this table's strategy is \"consistent_hash\")"],
    );
}

#[test]
fn range_table_without_ranges() {
    let found = problems(&base_with(
        "strategy = \"consistent_hash\"",
        "strategy = \"range\"",
    ));
    assert_eq!(found.len(), 1);
    assert!(
        found[0]
            .starts_with("t.toml:26: tables[1].ranges: missing ranges: a range table needs ranges"),
        "{found:?}"
    );
}

#[test]
fn range_table_with_empty_ranges() {
    let text = base_with(
        "strategy = \"consistent_hash\"",
        "strategy = \"range\"\nranges = []",
    );
    let found = problems(&text);
    assert!(
        found[0].starts_with("t.toml:30: tables[1].ranges: empty ranges: "),
        "{found:?}"
    );
}

/// `BASE` with `orders` range-sharded by the given range lines (each on its own line from 31).
fn range_table(ranges: &[&str]) -> String {
    let lines: String = ranges.iter().map(|r| format!("  {r},\n")).collect();
    base_with(
        "strategy = \"consistent_hash\"",
        &format!("strategy = \"range\"\nranges = [\n{lines}]"),
    )
}

#[test]
fn valid_range_table() {
    assert_problems(
        &range_table(&[
            "{ shard = \"s0\", end = 100 }",
            "{ shard = \"s1\", start = 100 }",
        ]),
        &[],
    );
}

#[test]
fn overlapping_ranges() {
    assert_problems(
        &range_table(&["{ shard = \"s0\", end = 100 }", "{ shard = \"s1\", start = 50 }"]),
        &["t.toml:32: tables[1].ranges[1]: range [50, +inf) overlaps ranges[0] (-inf, 100); each range must start where the previous one ends"],
    );
}

#[test]
fn ranges_with_a_gap() {
    assert_problems(
        &range_table(&["{ shard = \"s0\", end = 100 }", "{ shard = \"s1\", start = 200 }"]),
        &["t.toml:32: tables[1].ranges[1]: gap between ranges[0] (-inf, 100) and this range [200, +inf): keys [100, 200) belong to no shard; start this range where the previous one ends"],
    );
}

#[test]
fn ranges_out_of_order() {
    assert_problems(
        &range_table(&["{ shard = \"s1\", start = 100 }", "{ shard = \"s0\", end = 100 }"]),
        &["t.toml:32: tables[1].ranges[1]: range (-inf, 100) starts before ranges[0] [100, +inf); list ranges in ascending order"],
    );
}

#[test]
fn empty_range() {
    assert_problems(
        &range_table(&["{ shard = \"s0\", start = 5, end = 5 }"]),
        &["t.toml:31: tables[1].ranges[0]: empty range [5, 5): start must be below end"],
    );
}

#[test]
fn range_naming_an_unknown_shard() {
    assert_problems(
        &range_table(&[
            "{ shard = \"s0\", end = 100 }",
            "{ shard = \"s9\", start = 100 }",
        ]),
        &["t.toml:32: tables[1].ranges[1].shard: unknown shard \"s9\" (shards: s0, s1)"],
    );
}

#[test]
fn range_without_a_shard() {
    assert_problems(
        &range_table(&["{ end = 100 }", "{ shard = \"s1\", start = 100 }"]),
        &["t.toml:31: tables[1].ranges[0].shard: missing shard: the shard that owns this range"],
    );
}

#[test]
fn range_table_with_string_key() {
    let text = range_table(&["{ shard = \"s0\" }"]).replace(
        "strategy = \"range\"",
        "strategy = \"range\"\nshard_key_type = \"string\"",
    );
    assert_problems(
        &text,
        &["t.toml:30: tables[1].shard_key_type: range tables need an integer shard key (shard_key_type = \"integer\")"],
    );
}

#[test]
fn unparseable_primary() {
    assert_problems(
        &base_with("primary = \"127.0.0.1:3320\"", "primary = \"localhost\""),
        &["t.toml:20: shards[1].primary: invalid address \"localhost\": missing port (expected host:port, e.g. 127.0.0.1:3306 or [::1]:3306)"],
    );
}

#[test]
fn unparseable_replica() {
    assert_problems(
        &base_with("[\"127.0.0.1:3311\"]", "[\"127.0.0.1:3311\", \"db:99999\"]"),
        &["t.toml:16: shards[0].replicas[1]: invalid address \"db:99999\": the port must be a number from 1 to 65535 (expected host:port, e.g. 127.0.0.1:3306 or [::1]:3306)"],
    );
}

#[test]
fn ipv6_addresses_in_brackets_are_accepted() {
    assert_problems(&base_with("127.0.0.1:3320", "[::1]:3320"), &[]);
    let found = problems(&base_with("127.0.0.1:3320", "::1:3320"));
    assert!(
        found[0].contains("an IPv6 address needs brackets"),
        "{found:?}"
    );
}

#[test]
fn same_endpoint_twice() {
    assert_problems(
        &base_with("primary = \"127.0.0.1:3320\"", "primary = \"127.0.0.1:3311\""),
        &["t.toml:20: shards[1].primary: endpoint 127.0.0.1:3311 is already used by shards[0].replicas[0] (line 16)"],
    );
}

#[test]
fn shard_without_primary() {
    assert_problems(
        &base_with("primary = \"127.0.0.1:3320\"\n", ""),
        &["t.toml:18: shards[1].primary: missing primary: the host:port of the shard's primary MariaDB"],
    );
}

#[test]
fn zero_shards() {
    let text = r#"[[users]]
name = "app"
password = "secret"
[backend]
user = "u"
password = ""
database = "app"
"#;
    assert_problems(
        text,
        &["t.toml: shards: no shards: add at least one [[shards]] entry with a name and a primary"],
    );
}

#[test]
fn user_without_password() {
    assert_problems(
        &base_with("password = \"secret\"\n", ""),
        &["t.toml:4: users[0].password: user \"app\" has no password; every client account needs one"],
    );
}

#[test]
fn user_with_empty_password() {
    assert_problems(
        &base_with("password = \"secret\"", "password = \"\""),
        &["t.toml:6: users[0].password: user \"app\" has an empty password; every client account needs one"],
    );
}

#[test]
fn user_with_empty_name() {
    assert_problems(
        &base_with("name = \"app\"", "name = \"\""),
        &["t.toml:5: users[0].name: empty user name"],
    );
}

#[test]
fn duplicate_user_names() {
    let text = base_with(
        "[backend]",
        "[[users]]\nname = \"app\"\npassword = \"other\"\n\n[backend]",
    );
    assert_problems(
        &text,
        &["t.toml:9: users[1].name: duplicate user \"app\" (first defined on line 5)"],
    );
}

#[test]
fn no_users() {
    let text = base_with("[[users]]\nname = \"app\"\npassword = \"secret\"\n", "");
    assert_problems(
        &text,
        &["t.toml: users: no users: add a [[users]] entry with the name and password clients log in with"],
    );
}

#[test]
fn default_shard_naming_no_shard() {
    assert_problems(
        &format!("default_shard = \"s9\"\n{BASE}"),
        &["t.toml:1: default_shard: unknown shard \"s9\" (shards: s0, s1)"],
    );
}

#[test]
fn unknown_key_in_a_table_entry() {
    assert_problems(
        &base_with("shard_key = \"id\"", "shard_kye = \"id\""),
        &[
            "t.toml:22: tables[0].shard_key: missing shard_key: the column whose value picks the shard",
            "t.toml:24: tables[0].shard_kye: unknown key (did you mean \"shard_key\"?)",
        ],
    );
}

#[test]
fn every_unknown_key_of_one_entry() {
    assert_problems(
        &base_with("user = \"shardgate\"", "usr = \"shardgate\"\nuser = \"x\"\ncolour = \"blue\""),
        &[
            "t.toml:9: backend.usr: unknown key (did you mean \"user\"?)",
            "t.toml:11: backend.colour: unknown key (expected one of: user, password, database, own_database, pool, tls, tls_ca_file)",
        ],
    );
}

#[test]
fn unknown_section() {
    assert_problems(
        &format!("{BASE}\n[serverr]\nlisten = \"x\"\n"),
        &["t.toml:31: serverr: unknown key (did you mean \"server\"?)"],
    );
}

#[test]
fn unknown_key_in_an_inline_range() {
    let text = range_table(&[
        "{ shard = \"s0\", end = 100 }",
        "{ shard = \"s1\", begin = 100 }",
    ]);
    let found = problems(&text);
    assert_eq!(
        found[0],
        "t.toml:32: tables[1].ranges[1].begin: unknown key (expected one of: shard, start, end)"
    );
}

#[test]
fn unknown_key_in_pool() {
    assert_problems(
        &format!("{BASE}\n[backend.pool]\nmax_szie = 3\n"),
        &["t.toml:32: backend.pool.max_szie: unknown key (did you mean \"max_size\"?)"],
    );
}

#[test]
fn value_of_the_wrong_type() {
    assert_problems(
        &base_with("replicas = [\"127.0.0.1:3311\"]", "replicas = \"127.0.0.1:3311\""),
        &["t.toml:16: shards[0].replicas: invalid type: string \"127.0.0.1:3311\", expected an array"],
    );
    assert_problems(
        &base_with("name = \"users\"", "name = 7"),
        &["t.toml:23: tables[0].name: invalid type: integer `7`, expected a string"],
    );
}

#[test]
fn pool_numbers_out_of_range() {
    let text = format!(
        "{BASE}\n[backend.pool]\nmax_size = 0\nmin_idle = -1\nconnect_timeout_ms = 0\nvalidation_interval_ms = -5\nvalidation_query = \"\"\n"
    );
    assert_problems(
        &text,
        &[
            "t.toml:32: backend.pool.max_size: must be greater than 0 (got 0)",
            "t.toml:33: backend.pool.min_idle: must not be negative (got -1)",
            "t.toml:34: backend.pool.connect_timeout_ms: must be greater than 0 (got 0)",
            "t.toml:35: backend.pool.validation_interval_ms: must not be negative (got -5)",
            "t.toml:36: backend.pool.validation_query: empty validation query (leave the key out for \"SELECT 1\")",
        ],
    );
}

#[test]
fn min_idle_above_max_size() {
    assert_problems(
        &format!("{BASE}\n[backend.pool]\nmax_size = 4\nmin_idle = 5\n"),
        &["t.toml:33: backend.pool.min_idle: min_idle (5) must not exceed max_size (4)"],
    );
}

#[test]
fn missing_backend_fields() {
    assert_problems(
        &base_with("database = \"app\"\n", "").replace("user = \"shardgate\"\n", ""),
        &[
            "t.toml:8: backend.user: missing backend user",
            "t.toml:8: backend.database: missing backend database",
        ],
    );
}

#[test]
fn missing_backend_section() {
    let text = base_with(
        "[backend]\nuser = \"shardgate\"\npassword = \"pw\"\ndatabase = \"app\"\n",
        "",
    );
    assert_problems(
        &text,
        &["t.toml: backend: missing [backend] section: the user, password and database the proxy logs in to every MariaDB with"],
    );
}

#[test]
fn zero_virtual_nodes() {
    assert_problems(
        &format!("{BASE}\n[ring]\nvirtual_nodes = 0\n"),
        &["t.toml:32: ring.virtual_nodes: must be between 1 and 65536 (got 0)"],
    );
}

#[test]
fn unparseable_listen_address() {
    assert_problems(
        &base_with("listen = \"127.0.0.1:6033\"", "listen = \"6033\""),
        &["t.toml:2: server.listen: invalid address \"6033\": missing port (expected host:port, e.g. 127.0.0.1:3306 or [::1]:3306)"],
    );
}

#[test]
fn sections_of_the_wrong_shape() {
    assert_problems(
        &format!("shards = 3\n{BASE}").replace("[[shards]]", "[[shardz]]"),
        &[
            "t.toml:1: shards: expected an array of tables ([[shards]]), found integer",
            "t.toml:14: shardz: unknown key (did you mean \"shards\"?)",
        ],
    );
}

#[test]
fn unreadable_file_is_reported() {
    let err =
        shardgate_config::load(std::path::Path::new("/nonexistent/shardgate.toml")).unwrap_err();
    assert_eq!(err.len(), 1);
    assert!(
        err.to_string()
            .starts_with("/nonexistent/shardgate.toml: cannot read config file: "),
        "{err}"
    );
}

#[test]
fn section_that_is_not_a_table() {
    let text = base_with(
        "[backend]\nuser = \"shardgate\"\npassword = \"pw\"\ndatabase = \"app\"\n",
        "",
    )
    .replace("[server]", "backend = 5\n[server]");
    assert_problems(
        &text,
        &["t.toml:1: backend: invalid type: integer `5`, expected a table"],
    );
}

#[test]
fn own_database_that_is_the_applications() {
    assert_problems(
        &base_with("database = \"app\"", "database = \"app\"\nown_database = \"app\""),
        &["t.toml:12: backend.own_database: own_database \"app\" is the applications' database: the proxy's records would be theirs to see and dump"],
    );
}

#[test]
fn own_database_too_long_by_default() {
    let long = "d".repeat(60);
    let found = problems(&base_with(
        "database = \"app\"",
        &format!("database = \"{long}\""),
    ));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with(&format!("t.toml: backend.own_database: database name \"_shardgate_{long}\" is longer than MariaDB's 64 characters")),
        "{found:?}"
    );
}
