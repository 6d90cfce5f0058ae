mod common;
use shardgate_ring::KeyValue;
#[test]
fn scratch() {
    let t = common::topology();
    for name in ["users", "sessions", "ledger"] {
        let r = t.table(name).unwrap();
        for i in -5i128..25 {
            print!("{name}:{i}->s{} ", r.shard_for(&KeyValue::Int(i)).unwrap());
        }
        println!();
    }
    let r = t.table("sessions").unwrap();
    for s in ["abc", "def", "ghi", "ABC", "x", "tok1", "tok2", "tok3"] {
        print!(
            "{s}->s{} ",
            r.shard_for(&KeyValue::Str(s.as_bytes())).unwrap()
        );
    }
    println!();
    if let Ok(p) = std::fs::read_to_string("/tmp/rt/sql.txt") {
        for line in p.lines() {
            match shardgate_router::plan_sql(line, &t) {
                Ok(pl) => println!("{line}\n  => {} {:?}", pl.display(&t), pl.route),
                Err(e) => println!("{line}\n  => error: {e}"),
            }
        }
    }
}
