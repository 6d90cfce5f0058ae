//! `profiles`, a table sharded by `user_id` like `orders` (same ring), so that `JOIN … USING
//! (user_id)` and `NATURAL JOIN` between them are co-located (issue #13, schema awareness);
//! one profile for every third user.

/// The proxy's config for `profiles`.
pub(super) const PROFILES_CONFIG: &str =
    "\n[[tables]]\nname = \"profiles\"\nshard_key = \"user_id\"\nstrategy = \"consistent_hash\"\n";

/// The statements that create and fill `profiles`, the same on both sides.
pub(super) fn profiles_statements(user_ids: &[i64]) -> Vec<String> {
    let mut statements = vec![
        "CREATE TABLE profiles (user_id BIGINT PRIMARY KEY, bio VARCHAR(40), level INT NULL)"
            .to_owned(),
    ];
    let rows: Vec<String> = user_ids
        .iter()
        .step_by(3)
        .map(|id| match id.rem_euclid(5) {
            0 => format!("({id}, NULL, NULL)"),
            r => format!("({id}, 'bio {id}', {})", id.rem_euclid(7) + r),
        })
        .collect();
    for chunk in rows.chunks(200) {
        statements.push(format!(
            "INSERT INTO profiles (user_id, bio, level) VALUES {}",
            chunk.join(", ")
        ));
    }
    statements
}
