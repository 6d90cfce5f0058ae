//! sysbench through the proxy on a 2-shard sandbox, its tables sharded by `id`: `prepare` and
//! `run` of the OLTP workloads, with server-side prepared statements and with text queries,
//! 8 threads, and not one error.

mod common;

use std::process::Command;

use common::TestEnv;
use mysql_async::prelude::Queryable;

const TABLES: usize = 2;
const TABLE_SIZE: usize = 2000;
const WORKLOADS: [&str; 7] = [
    "oltp_point_select",
    "oltp_read_only",
    "oltp_read_write",
    "oltp_update_index",
    "oltp_update_non_index",
    "oltp_delete",
    "oltp_insert",
];

/// What one sysbench command printed, checked for success.
struct Outcome {
    transactions: u64,
    queries: u64,
    ignored_errors: u64,
    reconnects: u64,
}

/// The first number after `label` on the line that starts with it (after indentation).
fn figure(output: &str, label: &str) -> Option<u64> {
    output
        .lines()
        .find_map(|line| line.trim_start().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

fn sysbench(port: u16, workload: &str, ps_mode: &str, phase: &str) -> String {
    let output = Command::new("sysbench")
        .arg(workload)
        .args([
            "--db-driver=mysql",
            "--mysql-host=127.0.0.1",
            &format!("--mysql-port={port}"),
            &format!("--mysql-user={}", shardgate_sandbox::PROXY_USER),
            &format!("--mysql-password={}", shardgate_sandbox::PROXY_PASSWORD),
            &format!("--mysql-db={}", shardgate_sandbox::DATABASE),
            &format!("--tables={TABLES}"),
            &format!("--table-size={TABLE_SIZE}"),
            "--auto_inc=off",
            &format!("--db-ps-mode={ps_mode}"),
            "--threads=8",
            "--time=3",
            "--report-interval=0",
        ])
        .arg(phase)
        .output()
        .expect("sysbench runs (scripts/install-deps.sh installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && !text.contains("FATAL"),
        "sysbench {workload} {phase} (--db-ps-mode={ps_mode}) failed:\n{text}"
    );
    text
}

fn run(port: u16, workload: &str, ps_mode: &str) -> Outcome {
    let text = sysbench(port, workload, ps_mode, "run");
    let outcome = Outcome {
        transactions: figure(&text, "transactions:").unwrap_or(0),
        queries: figure(&text, "queries:").unwrap_or(0),
        ignored_errors: figure(&text, "ignored errors:").unwrap_or(u64::MAX),
        reconnects: figure(&text, "reconnects:").unwrap_or(u64::MAX),
    };
    assert!(
        outcome.transactions > 0 && outcome.queries > 0,
        "{workload} (--db-ps-mode={ps_mode}) did no work:\n{text}"
    );
    // oltp_read_write's concurrent transactions can deadlock (1213) or time out on a lock
    // (1205), against one server as well; sysbench retries those ("ignored errors"). Across
    // shards no server sees the cycle, so each one waits out the multi-shard lock timeout and
    // a 3 s run has few transactions: one run did 3 retries in 201. They stay rare; everything
    // else is an error.
    let retries_allowed = if workload == "oltp_read_write" {
        (outcome.transactions / 20).max(5)
    } else {
        0
    };
    assert!(
        outcome.ignored_errors <= retries_allowed && outcome.reconnects == 0,
        "{workload} (--db-ps-mode={ps_mode}) met errors:\n{text}"
    );
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sysbench_oltp_workloads_run_through_the_proxy_without_errors() {
    let sharded: String = (1..=TABLES)
        .map(|t| format!("\n[[tables]]\nname = \"sbtest{t}\"\nshard_key = \"id\"\n"))
        .collect();
    // oltp_read_write's transactions touch both shards.
    let env = TestEnv::start_rendered(2, 0, |sandbox, listen| {
        sandbox.config_toml(listen).replacen(
            "[server]\n",
            "[server]\ntransaction_mode = \"multi\"\n",
            1,
        ) + &sharded
    })
    .await;
    let port = env.port;
    for ps_mode in ["auto", "disable"] {
        tokio::task::spawn_blocking(move || {
            sysbench(port, "oltp_read_write", ps_mode, "cleanup");
            sysbench(port, "oltp_read_write", ps_mode, "prepare");
        })
        .await
        .expect("prepare");
        // Every row sits on the shard its id maps to, and both shards hold a fair share.
        for shard in 0..2 {
            let mut direct = env.connect_primary(shard).await;
            for t in 1..=TABLES {
                let ids: Vec<i64> = direct
                    .query(format!("SELECT id FROM sbtest{t}"))
                    .await
                    .unwrap();
                assert!(ids.len() > TABLE_SIZE / 3, "shard {shard} sbtest{t}");
                for id in ids {
                    assert_eq!(env.shard_of(&format!("sbtest{t}"), i128::from(id)), shard);
                }
            }
        }
        for workload in WORKLOADS {
            let outcome = tokio::task::spawn_blocking(move || run(port, workload, ps_mode))
                .await
                .expect("sysbench run");
            println!(
                "{workload} --db-ps-mode={ps_mode}: {} transactions, {} queries, 0 errors, {} deadlock retries",
                outcome.transactions, outcome.queries, outcome.ignored_errors
            );
        }
    }
    env.stop().await;
}
