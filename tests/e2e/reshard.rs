//! Issue #15's plan: which keys of each table go from which shard to which when a shard
//! joins, with the rows that is (estimated from statistics for hash strategies, counted for
//! key ranges), from the library and from `shardgate reshard plan`.

use mysql_async::prelude::Queryable;
use shardgate_sandbox::Sandbox;

use crate::common::TestEnv;

/// The first `shards` of the sandbox; `accounts` on a ring, `events` by ranges over s0, s1 and,
/// with three shards, s2 taking [100, 200) from s1.
fn config(sandbox: &Sandbox, listen: &str, shards: usize) -> String {
    let names = ["s0", "s1", "s2"];
    let text = crate::common::config_with_shards(sandbox, listen, &names[..shards], false);
    let ranges = match shards {
        2 => r#"[{ shard = "s0", end = 100 }, { shard = "s1", start = 100 }]"#,
        _ => {
            r#"[{ shard = "s0", end = 100 }, { shard = "s2", start = 100, end = 200 }, { shard = "s1", start = 200 }]"#
        }
    };
    text + &format!(
        "[[tables]]\nname = \"accounts\"\nshard_key = \"id\"\nstrategy = \"consistent_hash\"\n\
         [[tables]]\nname = \"events\"\nshard_key = \"id\"\nstrategy = \"range\"\nranges = {ranges}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_of_a_shard_joining_names_what_moves_and_its_rows() {
    let env = TestEnv::start_rendered(3, 0, |sandbox, listen| config(sandbox, listen, 2)).await;
    assert_eq!(
        env.topology.shards.len(),
        2,
        "{}",
        env.config_path.display()
    );
    for table in ["accounts", "events"] {
        let sql = format!("CREATE TABLE {table} (id BIGINT PRIMARY KEY, v INT)");
        crate::common::on_every_primary(&env.sandbox, &sql).await;
    }
    let mut conn = env.connect().await;
    let values: Vec<String> = (1..=300).map(|id| format!("({id}, {id})")).collect();
    for table in ["accounts", "events"] {
        conn.query_drop(format!("INSERT INTO {table} VALUES {}", values.join(", ")))
            .await
            .unwrap();
    }
    for shard in &env.sandbox.shards()[..2] {
        // Statistics as they are now (InnoDB refreshes them in the background).
        (env.sandbox)
            .exec_in(
                &shard.primary,
                shardgate_sandbox::DATABASE,
                "ANALYZE TABLE accounts",
            )
            .await
            .unwrap();
    }
    let listen = format!("127.0.0.1:{}", env.port);
    let target_text = config(&env.sandbox, &listen, 3);
    let target = shardgate_config::parse(&target_text, "target.toml").unwrap();
    let plan = shardgate_server::reshard_plan(&env.proxy.runtime(), &target, 100).await;
    let printed = plan.to_string();
    let table = |name: &str| plan.tables.iter().find(|t| t.table == name).unwrap();

    // The ring: both shards give keys to s2; the estimate is close to the keys that move.
    let accounts = table("accounts");
    assert!(!accounts.refused, "{printed}");
    let targets: Vec<Option<&str>> = (accounts.flows.iter())
        .map(|f| f.flow.to.as_deref())
        .collect();
    assert_eq!(targets, [Some("s2"), Some("s2")], "{printed}");
    let ring = |topology: &shardgate_config::Topology, id: i128| {
        let rule = topology.table("accounts").unwrap();
        let shard = rule.shard_for(&shardgate_ring::KeyValue::Int(id)).unwrap();
        topology.shards[shard].name.clone()
    };
    let moving = (1..=300)
        .filter(|id| ring(&env.topology, *id) != ring(&target, *id))
        .count() as f64;
    let estimated: u64 = accounts.flows.iter().filter_map(|f| f.rows).sum();
    assert!(
        (estimated as f64 - moving).abs() <= moving * 0.5 + 10.0,
        "estimated {estimated}, {moving} move: {printed}"
    );
    assert!(accounts.flows.iter().all(|f| !f.exact));

    // The ranges: s1 gives [100, 200) to s2, counted exactly.
    let events = table("events");
    assert_eq!(events.flows.len(), 1, "{printed}");
    let flow = &events.flows[0];
    assert_eq!(flow.flow.to_string(), "s1 → s2: 1 unit(s) [100, 200)");
    assert_eq!((flow.rows, flow.exact), (Some(100), true));
    assert!(printed.contains("total: ~"), "{printed}");
    assert!(printed.contains("rows/s about "), "{printed}");

    // The CLI prints the same plan.
    let target_path = env.sandbox.dir().join("target.toml");
    std::fs::write(&target_path, &target_text).unwrap();
    let stdout = crate::common::shardgate_cli([
        "reshard".as_ref(),
        "plan".as_ref(),
        "--config".as_ref(),
        env.config_path.as_os_str(),
        "--to".as_ref(),
        target_path.as_os_str(),
    ]);
    assert!(
        stdout.contains("s1 → s2: 1 unit(s) [100, 200): 100 rows"),
        "{stdout}"
    );
    assert!(stdout.contains("`accounts`: "), "{stdout}");
    drop(conn);
    env.stop().await;
}

/// Issue #15's split advice, made startable: a hot `events` range on s1 gets advice naming
/// `shardgate reshard split`; the command writes the target config (s2 declared, s1's range
/// cut at 200), and the workflow started with it moves exactly the keys from 200 on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_split_advice_writes_a_target_the_workflow_runs() {
    use crate::reshard_copy::{connect_admin, fill, start, wait_for_phase};
    let env = TestEnv::start_rendered(3, 0, |sandbox, listen| {
        crate::reshard_copy::config(sandbox, listen, 2)
    })
    .await;
    fill(&env, 1..=300).await;
    let mut admin = connect_admin(env.port).await;
    for _ in 0..120 {
        let _: Vec<mysql_async::Row> = admin
            .query("SELECT * FROM events WHERE id = 150")
            .await
            .unwrap();
    }
    let hotspots: Vec<mysql_async::Row> = admin.query("SHOW SHARDGATE HOTSPOTS").await.unwrap();
    let advice = (hotspots.iter())
        .find(|r| r.get::<String, _>(0).as_deref() == Some("events"))
        .and_then(|r| r.get::<Option<String>, _>(5).flatten())
        .expect("advice for the hot table");
    assert!(
        advice.contains("shardgate reshard split --table events --at KEY --shard NEW"),
        "{advice}"
    );
    let target_path = env.sandbox.dir().join("split.toml");
    let s2 = env.sandbox.shards()[2].primary.addr();
    let stdout = crate::common::shardgate_cli([
        "reshard".as_ref(),
        "split".as_ref(),
        "--config".as_ref(),
        env.config_path.as_os_str(),
        "--table".as_ref(),
        "events".as_ref(),
        "--at".as_ref(),
        "200".as_ref(),
        "--shard".as_ref(),
        "s2".as_ref(),
        "--primary".as_ref(),
        s2.as_ref(),
        "--out".as_ref(),
        target_path.as_os_str(),
    ]);
    assert!(stdout.contains("next: shardgate reshard plan"), "{stdout}");
    // START … DRY RUN (and `reshard start --dry-run`) prints the plan and starts nothing.
    let sql = format!(
        "SHARDGATE RESHARD START '{}' DRY RUN",
        target_path.display()
    );
    let plan: Vec<String> = admin.query(sql).await.unwrap();
    assert!(
        plan.iter()
            .any(|l| l.contains("s1 → s2: 1 unit(s) [200, +∞)")),
        "{plan:?}"
    );
    let proxy = format!("127.0.0.1:{}", env.port);
    let printed = crate::common::shardgate_cli([
        "reshard".as_ref(),
        "start".as_ref(),
        "--proxy".as_ref(),
        proxy.as_ref(),
        "--user".as_ref(),
        "ops".as_ref(),
        "--password".as_ref(),
        "ops-secret".as_ref(),
        "--to".as_ref(),
        target_path.as_os_str(),
        "--dry-run".as_ref(),
    ]);
    assert_eq!(printed.lines().collect::<Vec<_>>(), plan);
    let none: Vec<mysql_async::Row> = admin.query("SHOW SHARDGATE MIGRATIONS").await.unwrap();
    assert!(none.is_empty(), "a dry run records nothing");
    let id = start(&mut admin, &target_path, None).await;
    wait_for_phase(&mut admin, &id, "catching_up").await;
    admin
        .query_drop(format!("SHARDGATE RESHARD RESUME {id}"))
        .await
        .unwrap();
    wait_for_phase(&mut admin, &id, "done").await;
    let mut s2 = env.connect_primary(2).await;
    let (moved, lowest): (u64, Option<i64>) = s2
        .query_first("SELECT COUNT(*), MIN(id) FROM events")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((moved, lowest), (202, Some(200)));
    let accounts: Option<u64> = s2
        .query_first("SELECT COUNT(*) FROM accounts")
        .await
        .unwrap_or(None);
    let mut app = env.connect().await;
    let total: Option<u64> = app
        .query_first("SELECT COUNT(*) FROM events")
        .await
        .unwrap();
    assert_eq!(total, Some(600));
    // `accounts` is on a ring: the new shard takes its share of it too (the advice says so).
    assert!(accounts.is_some_and(|n| n > 0), "{accounts:?}");
    drop((admin, app, s2));
    env.stop().await;
}
