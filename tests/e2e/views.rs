//! Issue #13: views over sharded tables. The view is made on the default shard (where reading
//! it would show that shard's rows only); statements naming it read its definition in its
//! place, as text and as prepared statements, also under `SET STATEMENT … FOR` and before an
//! `INTO @v`; writing through it, and stored code naming it, are refused naming the view.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::common::{insert_users_with_orders, rows, server_error, TestEnv};

const ADMIN: &str = "\n[[users]]\nname = \"ops\"\npassword = \"ops-secret\"\nadmin = true\n";

async fn setup() -> (TestEnv, Conn) {
    let env = TestEnv::start_with(2, 0, ADMIN).await;
    let mut conn = env.connect().await;
    insert_users_with_orders(&mut conn, 30).await;
    conn.query_drop(
        "CREATE VIEW big_orders AS SELECT id, user_id, amount FROM orders WHERE amount > 2",
    )
    .await
    .unwrap();
    (env, conn)
}

async fn one(conn: &mut Conn, sql: &str) -> Vec<Option<String>> {
    rows(conn, sql).await.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_over_a_sharded_table_reads_every_shard() {
    let (env, mut conn) = setup().await;
    let whole = one(
        &mut conn,
        "SELECT COUNT(*), SUM(amount) FROM orders WHERE amount > 2",
    )
    .await;
    assert_eq!(whole, [Some("29".into()), Some("478.50".into())]);
    // The view lives on the default shard alone, which holds part of the rows.
    let mut default = env.connect_primary(0).await;
    let mut other = env.connect_primary(1).await;
    let on_default = one(&mut default, "SELECT COUNT(*), SUM(amount) FROM big_orders").await;
    assert_ne!(on_default, whole);
    let (code, ..) = server_error(other.query_drop("SELECT 1 FROM big_orders").await);
    assert_eq!(code, 1146);

    // Read through the proxy: every shard's rows, as text and prepared.
    assert_eq!(
        one(&mut conn, "SELECT COUNT(*), SUM(amount) FROM big_orders").await,
        whole
    );
    let prepared: Vec<(i64, String)> = conn
        .exec(
            "SELECT COUNT(*), CAST(SUM(amount) AS CHAR) FROM big_orders WHERE user_id > ?",
            (0,),
        )
        .await
        .unwrap();
    assert_eq!(prepared, [(29, "478.50".to_owned())]);
    let by_key: Vec<(i64, String)> = conn
        .exec(
            "SELECT id, CAST(amount AS CHAR) FROM big_orders b WHERE b.user_id = ? ORDER BY id",
            (7,),
        )
        .await
        .unwrap();
    assert_eq!(by_key, [(70, "7.50".to_owned())]);
    assert_eq!(
        one(
            &mut conn,
            "SET STATEMENT max_statement_time = 60 FOR SELECT COUNT(*) FROM big_orders"
        )
        .await,
        [Some("29".into())]
    );
    // Before a tail the parser does not read.
    conn.query_drop("SELECT COUNT(*) FROM big_orders INTO @n")
        .await
        .unwrap();
    assert_eq!(one(&mut conn, "SELECT @n").await, [Some("29".into())]);
    // Its plan: the definition's, pinned to one shard by the key condition on the view.
    let admin_opts = env.opts().user(Some("ops")).pass(Some("ops-secret"));
    let mut admin = Conn::new(admin_opts).await.unwrap();
    let plan = rows(
        &mut admin,
        "SHOW SHARDGATE ROUTE FOR SELECT * FROM big_orders WHERE user_id = 7",
    )
    .await;
    let first = plan[0][0].clone().unwrap_or_default();
    assert!(first.starts_with("read → shard "), "{plan:?}");
    assert!(
        first.contains("in a derived table by user_id = 7"),
        "{plan:?}"
    );
    // Made as dump tools write it (text the parser does not read): known at once too.
    conn.query_drop(
        "/*!50001 CREATE ALGORITHM=UNDEFINED */ /*!50001 VIEW dumped AS SELECT user_id FROM orders */",
    )
    .await
    .unwrap();
    assert_eq!(
        one(&mut conn, "SELECT COUNT(*) FROM dumped").await,
        [Some("60".into())]
    );
    // A view over the view, and a join of the view with the table it reads.
    conn.query_drop("CREATE VIEW bigger AS SELECT user_id FROM big_orders WHERE amount > 20")
        .await
        .unwrap();
    assert_eq!(
        one(&mut conn, "SELECT COUNT(*), MIN(user_id) FROM bigger").await,
        [Some("11".into()), Some("20".into())]
    );
    assert_eq!(
        one(
            &mut conn,
            "SELECT COUNT(*) FROM users u JOIN big_orders b ON b.user_id = u.id WHERE u.name LIKE 'n1%'"
        )
        .await,
        [Some("10".into())]
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_through_a_view_over_a_sharded_table_is_refused_naming_it() {
    let (env, mut conn) = setup().await;
    for sql in [
        "INSERT INTO big_orders (id, user_id, amount) VALUES (999, 1, 5)",
        "UPDATE big_orders SET amount = 3 WHERE user_id = 1",
        "DELETE FROM big_orders WHERE user_id = 1",
        "CREATE PROCEDURE count_big() SELECT COUNT(*) FROM big_orders",
        "LOAD DATA INFILE '/nonexistent' INTO TABLE big_orders",
    ] {
        let (code, state, message) = server_error(conn.query_drop(sql).await);
        assert_eq!((code, state.as_str()), (1235, "42000"), "{sql}: {message}");
        assert!(message.contains("view `big_orders`"), "{sql}: {message}");
    }
    // Nothing was written, and the view still reads every shard.
    assert_eq!(
        one(&mut conn, "SELECT COUNT(*) FROM orders WHERE id = 999").await,
        [Some("0".into())]
    );
    // Dropped through the proxy: gone for the next statement, as on one server.
    conn.query_drop("DROP VIEW big_orders").await.unwrap();
    let (code, ..) = server_error(conn.query_drop("SELECT COUNT(*) FROM big_orders").await);
    assert_eq!(code, 1146);
    env.stop().await;
}
