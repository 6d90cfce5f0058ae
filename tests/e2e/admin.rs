//! The admin statements through a real client: `SHOW SHARDGATE SHARDS | TABLES | HOTSPOTS |
//! ROUTE FOR …` for an account with `admin = true`, error 1227 for others.

use crate::common::{rows, server_error, TestEnv};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};

const ADMIN: &str = "\n[[users]]\nname = \"ops\"\npassword = \"ops-secret\"\nadmin = true\n\
                     \n[[tables]]\nname = \"countries\"\nreference = true\n";

async fn connect_admin(env: &TestEnv) -> Conn {
    let opts = env.opts().user(Some("ops")).pass(Some("ops-secret"));
    Conn::new(Opts::from(opts)).await.expect("admin connects")
}

/// The column names of a statement's result.
async fn columns(conn: &mut Conn, sql: &str) -> Vec<String> {
    let result = conn.query_iter(sql).await.expect(sql);
    let names = result
        .columns_ref()
        .iter()
        .map(|c| c.name_str().into_owned())
        .collect();
    result.drop_result().await.expect("drain");
    names
}

fn text(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("NULL")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_statements_describe_the_proxy() {
    let env = TestEnv::start_with(2, 1, ADMIN).await;
    let mut admin = connect_admin(&env).await;

    // SHARDS: each endpoint, primaries before their replicas.
    assert_eq!(
        columns(&mut admin, "SHOW SHARDGATE SHARDS").await,
        [
            "shard",
            "role",
            "address",
            "status",
            "lag_seconds",
            "in_rotation",
            "pool_in_use",
            "pool_idle",
            "pool_waiting",
            "last_error"
        ]
    );
    let shards = rows(&mut admin, "show shardgate shards;").await;
    let mut expected = Vec::new();
    for shard in &env.topology.shards {
        expected.push((shard.name.clone(), "primary", shard.primary.to_string()));
        for replica in &shard.replicas {
            expected.push((shard.name.clone(), "replica", replica.to_string()));
        }
    }
    assert_eq!(shards.len(), expected.len(), "{shards:?}");
    for (row, (shard, role, address)) in shards.iter().zip(&expected) {
        assert_eq!(
            (text(&row[0]), text(&row[1]), text(&row[2]), text(&row[3])),
            (shard.as_str(), *role, address.as_str(), "up"),
            "{row:?}"
        );
        if *role == "primary" {
            assert_eq!((&row[4], &row[5]), (&None, &None), "{row:?}");
        } else {
            assert!(text(&row[4]).parse::<u64>().is_ok(), "lag {row:?}");
            assert_eq!(text(&row[5]), "yes", "{row:?}");
        }
        for pool in &row[6..9] {
            assert!(text(pool).parse::<u64>().is_ok(), "pool numbers {row:?}");
        }
        assert_eq!(row[9], None, "no error on a healthy endpoint: {row:?}");
    }

    // TABLES: sharded tables by name, then reference tables.
    let tables = rows(&mut admin, "SHOW SHARDGATE TABLES").await;
    let tables: Vec<Vec<&str>> = tables
        .iter()
        .map(|r| r.iter().map(text).collect())
        .collect();
    assert_eq!(
        tables,
        [
            [
                "orders",
                "consistent_hash",
                "user_id",
                "read_your_writes",
                "NULL"
            ],
            ["users", "consistent_hash", "id", "read_your_writes", "NULL"],
            ["countries", "reference", "NULL", "read_your_writes", "NULL"],
        ]
    );

    // ROUTE FOR: the plan tree, one row per operator, with the shard and the text sent there.
    let shard_7 = &env.topology.shards[env.shard_of("users", 7)].name;
    let route = rows(
        &mut admin,
        "SHOW SHARDGATE ROUTE FOR SELECT * FROM users WHERE id = 7",
    )
    .await;
    assert_eq!(route.len(), 1, "{route:?}");
    assert_eq!(text(&route[0][0]), format!("read → shard {shard_7}"));
    assert_eq!(text(&route[0][1]), shard_7.as_str());
    assert_eq!(text(&route[0][2]), "SELECT * FROM users WHERE id = 7");
    let scatter = rows(
        &mut admin,
        "SHOW SHARDGATE ROUTE FOR SELECT COUNT(*) FROM users",
    )
    .await;
    let shards: Vec<&str> = (scatter.iter())
        .filter(|r| r[1].is_some())
        .map(|r| text(&r[1]))
        .collect();
    assert_eq!(shards, ["s0", "s1"]);
    assert!(
        text(&scatter[0][0]).starts_with("read → scatter to [s0, s1]"),
        "{scatter:?}"
    );
    let refused = admin
        .query_drop("SHOW SHARDGATE ROUTE FOR UPDATE users u JOIN orders o ON o.user_id = u.id SET o.user_id = 9 WHERE u.id = 7")
        .await;
    let (code, _, message) = server_error(refused);
    assert_eq!(code, 1235, "{message}");
    assert!(message.contains("multi-table"), "{message}");
    // A shard-key UPDATE prints its steps (run once first: the schema cache reads `orders`).
    admin
        .query_drop("UPDATE orders SET user_id = 5 WHERE id = 1")
        .await
        .expect("a shard-key UPDATE of no row");
    let moving = rows(
        &mut admin,
        "SHOW SHARDGATE ROUTE FOR UPDATE orders SET user_id = 5 WHERE id = 1",
    )
    .await;
    assert!(
        text(&moving[0][0]).starts_with("UPDATE that changes shard key `user_id` of `orders`"),
        "{moving:?}"
    );

    // HOTSPOTS: reads of one users key all land on one shard.
    for _ in 0..120 {
        admin
            .query_drop("SELECT * FROM users WHERE id = 7")
            .await
            .expect("read");
    }
    let hotspots = rows(&mut admin, "SHOW SHARDGATE HOTSPOTS").await;
    let hotspots: Vec<Vec<&str>> = hotspots
        .iter()
        .map(|r| r.iter().map(text).collect())
        .collect();
    assert_eq!(hotspots.len(), 2, "{hotspots:?}");
    let (orders, users) = (&hotspots[0], &hotspots[1]);
    assert_eq!(orders[..3], ["orders", "0.0", "0"]);
    assert_eq!(users[..3], ["users", "100.0", "120"]);
    let per_shard = if shard_7 == "s0" {
        "s0=120 s1=0"
    } else {
        "s0=0 s1=120"
    };
    assert_eq!(users[3], per_shard);
    // Hot only after a whole minute above the threshold.
    assert_eq!(users[4], "no");
    // Above the threshold: what would spread the load; none below it.
    assert!(
        users[5].starts_with(&format!(
            "{shard_7} gets 100% of the requests for about 1/2 of the keys"
        )),
        "{users:?}"
    );
    assert_eq!(orders[5], "NULL", "{orders:?}");

    let unknown = admin.query_drop("SHOW SHARDGATE NONSENSE").await;
    assert_eq!(server_error(unknown).0, 1064);
    drop(admin);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_users_are_refused() {
    let env = TestEnv::start_with(1, 0, ADMIN).await;
    let mut app = env.connect().await;
    for statement in [
        "SHOW SHARDGATE SHARDS",
        "SHOW SHARDGATE TABLES",
        "SHOW SHARDGATE HOTSPOTS",
        "SHOW SHARDGATE ROUTE FOR SELECT 1",
    ] {
        let (code, state, message) = server_error(app.query_drop(statement).await);
        assert_eq!((code, state.as_str()), (1227, "42000"), "{statement}");
        assert!(message.contains("admin privilege"), "{message}");
    }
    // The refusal leaves the session usable.
    let one: Option<i64> = app.query_first("SELECT 1").await.expect("select");
    assert_eq!(one, Some(1));
    drop(app);
    env.stop().await;
}
