//! Pass-through authentication (`[server] pass_through_auth`): clients log in as the servers'
//! own MariaDB accounts (created through the proxy or on the servers), and MariaDB's
//! privileges apply to everything they run through it, on every shard and replica.

use crate::common::{on_every_primary, rows, server_error, TestEnv};
use mysql_async::prelude::Queryable;
use mysql_async::{ChangeUserOpts, Conn, Opts};

const ADMIN: &str = "\n[[users]]\nname = \"ops\"\npassword = \"ops-secret\"\nadmin = true\n";

async fn env(pass_through: bool) -> TestEnv {
    TestEnv::start_rendered(2, 1, |sandbox, listen| {
        let server = format!("[server]\npass_through_auth = {pass_through}\n");
        sandbox
            .config_toml(listen)
            .replacen("[server]\n", &server, 1)
            + ADMIN
    })
    .await
}

fn login(env: &TestEnv, user: &str, password: &str, database: Option<&str>) -> Opts {
    Opts::from(
        env.opts()
            .user(Some(user))
            .pass(Some(password))
            .db_name(database),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_accounts_log_in_and_their_privileges_apply_on_every_shard() {
    let env = env(true).await;
    let mut app = env.connect().await;
    app.query_drop("INSERT INTO users (id, email, name) VALUES (1,'a@x','a'),(2,'b@x','b'),(3,'c@x','c'),(4,'d@x','d'),(5,'e@x','e')")
        .await
        .unwrap();
    let shards: std::collections::BTreeSet<usize> =
        (1..=5).map(|id| env.shard_of("users", id)).collect();
    assert_eq!(shards.len(), 2, "rows on both shards");
    // Accounts created through the proxy by an admin reach every primary (and, replicated,
    // every replica).
    let mut ops = Conn::new(login(&env, "ops", "ops-secret", Some("app")))
        .await
        .unwrap();
    ops.query_drop("CREATE USER 'reader'@'%' IDENTIFIED BY 'reader-pw'")
        .await
        .unwrap();
    ops.query_drop("CREATE USER 'nobody'@'%'").await.unwrap();
    // The proxy's backend account has no GRANT OPTION: granted on the servers.
    on_every_primary(&env.sandbox, "GRANT SELECT ON app.users TO 'reader'@'%'").await;

    // The account, its password, and a scatter over both shards with its privileges.
    let mut reader = Conn::new(login(&env, "reader", "reader-pw", Some("app")))
        .await
        .expect("the servers' account logs in through the proxy");
    assert_eq!(
        rows(&mut reader, "SELECT CURRENT_USER(), COUNT(*) FROM users").await,
        vec![vec![Some("reader@%".into()), Some("5".into())]]
    );
    for id in 1..=5 {
        let sql = format!("SELECT name FROM users WHERE id = {id}");
        assert_eq!(rows(&mut reader, &sql).await.len(), 1, "{sql}");
    }
    // Reads on the replicas log in as the account too.
    reader
        .query_drop("SET @@shardgate_consistency = 'eventual'")
        .await
        .unwrap();
    for id in 1..=5 {
        let sql = format!("SELECT CURRENT_USER(), @@read_only, name FROM users WHERE id = {id}");
        // The replica may not have applied the rows yet.
        let mut answer = rows(&mut reader, &sql).await;
        for _ in 0..200 {
            if !answer.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            answer = rows(&mut reader, &sql).await;
        }
        assert_eq!(
            answer[0][..2],
            [Some("reader@%".into()), Some("1".into())],
            "{sql}"
        );
    }
    let (code, ..) = server_error(
        reader
            .query_drop("SELECT * FROM orders WHERE user_id = 1")
            .await,
    );
    assert_eq!(code, 1142, "on a replica");
    reader
        .query_drop("SET @@shardgate_consistency = DEFAULT")
        .await
        .unwrap();
    // What the account may not do is refused by MariaDB, on whichever shard it runs.
    for sql in [
        "SELECT COUNT(*) FROM orders",
        "INSERT INTO users (id, email) VALUES (6, 'f@x')",
        "UPDATE users SET name = 'z'",
        "DELETE FROM users WHERE id = 2",
    ] {
        let (code, _, message) = server_error(reader.query_drop(sql).await);
        assert_eq!(code, 1142, "{sql}: {message}");
        assert!(message.contains("reader"), "{sql}: {message}");
    }
    // Nothing ran with the proxy's own account.
    assert_eq!(
        rows(&mut app, "SELECT COUNT(*), SUM(name = 'z') FROM users").await,
        vec![vec![Some("5".into()), Some("0".into())]]
    );
    // Never a proxy admin, whatever its name.
    let (code, ..) = server_error(reader.query_drop("SHOW SHARDGATE SHARDS").await);
    assert_eq!(code, 1227);

    // A wrong password; an account of the servers without privileges on the database asked for.
    let (code, state, message) =
        server_error(Conn::new(login(&env, "reader", "wrong", Some("app"))).await);
    assert_eq!((code, state.as_str()), (1045, "28000"), "{message}");
    let (code, _, message) = server_error(Conn::new(login(&env, "nobody", "", Some("app"))).await);
    assert_eq!(code, 1044, "{message}");
    // Without a database it logs in, in none, as on MariaDB.
    let mut nobody = Conn::new(login(&env, "nobody", "", None)).await.unwrap();
    assert_eq!(
        rows(&mut nobody, "SELECT CURRENT_USER(), DATABASE()").await,
        vec![vec![Some("nobody@%".into()), None]]
    );
    let (code, ..) = server_error(nobody.query_drop("SELECT * FROM app.users").await);
    assert_eq!(code, 1142);

    // COM_CHANGE_USER into the account and back.
    let mut changed = env.connect().await;
    changed
        .change_user(
            ChangeUserOpts::default()
                .with_user(Some("reader".into()))
                .with_pass(Some("reader-pw".into()))
                .with_db_name(Some("app".into())),
        )
        .await
        .unwrap();
    assert_eq!(
        rows(&mut changed, "SELECT CURRENT_USER(), COUNT(*) FROM users").await,
        vec![vec![Some("reader@%".into()), Some("5".into())]]
    );
    let (code, ..) = server_error(changed.query_drop("SELECT COUNT(*) FROM orders").await);
    assert_eq!(code, 1142);

    // Roles are the session's own, on every connection it takes.
    on_every_primary(
        &env.sandbox,
        "CREATE ROLE analyst; GRANT SELECT ON app.orders TO analyst; GRANT analyst TO 'reader'@'%'",
    )
    .await;
    changed.query_drop("SET ROLE analyst").await.unwrap();
    for sql in [
        "SELECT CURRENT_ROLE(), COUNT(*) FROM orders",
        "SELECT CURRENT_ROLE(), COUNT(*) FROM orders WHERE user_id = 1",
        "SELECT CURRENT_ROLE(), COUNT(*) FROM orders WHERE user_id = 2",
    ] {
        assert_eq!(
            rows(&mut changed, sql).await,
            vec![vec![Some("analyst".into()), Some("0".into())]],
            "{sql}"
        );
    }
    changed.query_drop("SET ROLE NONE").await.unwrap();
    let (code, ..) = server_error(changed.query_drop("SELECT COUNT(*) FROM orders").await);
    assert_eq!(code, 1142, "the role is gone on every connection");
    // The proxy's own accounts run as its backend account: no roles of theirs.
    let (code, _, message) = server_error(app.query_drop("SET ROLE analyst").await);
    assert_eq!(code, 1235, "{message}");

    // Each login is a new one, as on MariaDB: a dropped and recreated account is another
    // account, even with the same name and password.
    ops.query_drop("CREATE USER 'again'@'127.0.0.1'")
        .await
        .unwrap();
    let mut again = Conn::new(login(&env, "again", "", None)).await.unwrap();
    assert_eq!(
        rows(&mut again, "SELECT CURRENT_USER()").await,
        vec![vec![Some("again@127.0.0.1".into())]]
    );
    drop(again);
    ops.query_drop("DROP USER 'again'@'127.0.0.1'")
        .await
        .unwrap();
    ops.query_drop("CREATE USER 'again'@'%'").await.unwrap();
    let mut again = Conn::new(login(&env, "again", "", None)).await.unwrap();
    assert_eq!(
        rows(&mut again, "SELECT CURRENT_USER()").await,
        vec![vec![Some("again@%".into())]]
    );

    // Dropped on the servers: the next login is refused.
    drop(reader);
    ops.query_drop("DROP USER 'reader'@'%'").await.unwrap();
    let (code, ..) = server_error(Conn::new(login(&env, "reader", "reader-pw", Some("app"))).await);
    assert_eq!(code, 1045);

    // A name no account has logs in as the anonymous account, when there is one.
    let (code, ..) = server_error(Conn::new(login(&env, "stranger", "", None)).await);
    assert_eq!(code, 1045);
    ops.query_drop("CREATE USER ''@'%'").await.unwrap();
    let mut stranger = Conn::new(login(&env, "stranger", "", None)).await.unwrap();
    assert_eq!(
        rows(
            &mut stranger,
            "SELECT USER() LIKE 'stranger@%', CURRENT_USER()"
        )
        .await,
        vec![vec![Some("1".into()), Some("@%".into())]]
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_pass_through_the_servers_accounts_do_not_log_in() {
    let env = env(false).await;
    on_every_primary(
        &env.sandbox,
        "CREATE USER 'reader'@'%' IDENTIFIED BY 'reader-pw'",
    )
    .await;
    let (code, state, message) =
        server_error(Conn::new(login(&env, "reader", "reader-pw", Some("app"))).await);
    assert_eq!((code, state.as_str()), (1045, "28000"), "{message}");
    env.stop().await;
}
