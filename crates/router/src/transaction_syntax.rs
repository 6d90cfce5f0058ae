//! MariaDB's grammar of transaction statements. The SQL parser also reads other dialects'
//! forms — `END`, `ABORT`, `BEGIN TRANSACTION`, `COMMIT TRANSACTION`, `RELEASE name`, `START
//! TRANSACTION ISOLATION LEVEL …` — which MariaDB refuses with a syntax error (1064); taken
//! as transaction commands, `END` would commit and `ABORT` roll back where one server changes
//! nothing. A statement planned as a transaction command that MariaDB's grammar does not allow
//! goes to the default shard instead, which answers its own error.

use sqlparser::tokenizer::Token;

use crate::Syntax;

/// Whether `sql` is a transaction statement in MariaDB's grammar: `START TRANSACTION [READ
/// ONLY | READ WRITE | WITH CONSISTENT SNAPSHOT [, …]]`, `BEGIN [WORK]`, `COMMIT | ROLLBACK
/// [WORK] [AND [NO] CHAIN] [[NO] RELEASE]`, `ROLLBACK [WORK] TO [SAVEPOINT] name`, `SAVEPOINT
/// name`, `RELEASE SAVEPOINT name`.
pub(crate) fn is_mariadb_form(sql: &str, syntax: Syntax) -> bool {
    let Ok(tokens) = crate::lex::tokenize(sql, syntax, true) else {
        return false;
    };
    let mut t: Vec<&Token> = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::EOF))
        .collect();
    while t.last() == Some(&&Token::SemiColon) {
        t.pop();
    }
    let kw = |i: usize, k: &str| matches!(t.get(i), Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k));
    let name = |i: usize| matches!(t.get(i), Some(Token::Word(_))) && i + 1 == t.len();
    let end = |i: usize| i == t.len();
    if kw(0, "start") && kw(1, "transaction") {
        let mut i = 2;
        if end(i) {
            return true;
        }
        loop {
            if kw(i, "read") && (kw(i + 1, "only") || kw(i + 1, "write")) {
                i += 2;
            } else if kw(i, "with") && kw(i + 1, "consistent") && kw(i + 2, "snapshot") {
                i += 3;
            } else {
                return false;
            }
            if end(i) {
                return true;
            }
            if t[i] != &Token::Comma {
                return false;
            }
            i += 1;
        }
    }
    if kw(0, "begin") {
        return end(1) || (kw(1, "work") && end(2));
    }
    if kw(0, "savepoint") {
        return name(1);
    }
    if kw(0, "release") {
        return kw(1, "savepoint") && name(2);
    }
    if !(kw(0, "commit") || kw(0, "rollback")) {
        return false;
    }
    let mut i = 1;
    if kw(i, "work") {
        i += 1;
    }
    if kw(0, "rollback") && kw(i, "to") {
        i += 1;
        if kw(i, "savepoint") {
            i += 1;
        }
        return name(i);
    }
    if kw(i, "and") {
        i += 1;
        if kw(i, "no") {
            i += 1;
        }
        if !kw(i, "chain") {
            return false;
        }
        i += 1;
    }
    if kw(i, "no") {
        i += 1;
        if !kw(i, "release") {
            return false;
        }
        i += 1;
    } else if kw(i, "release") {
        i += 1;
    }
    end(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mariadb_s_forms_are_told_from_other_dialects() {
        for sql in [
            "BEGIN",
            "begin work;",
            "START TRANSACTION",
            "START TRANSACTION READ ONLY",
            "start transaction with consistent snapshot, read write",
            "COMMIT",
            "COMMIT WORK AND NO CHAIN NO RELEASE",
            "ROLLBACK /* c */ WORK",
            "ROLLBACK AND CHAIN",
            "ROLLBACK TO sp",
            "ROLLBACK WORK TO SAVEPOINT `my sp`",
            "ROLLBACK TO SAVEPOINT `savepoint`",
            "SAVEPOINT sp",
            "RELEASE SAVEPOINT sp;",
        ] {
            assert!(is_mariadb_form(sql, Syntax::default()), "{sql}");
        }
        for sql in [
            "END",
            "END WORK",
            "ABORT",
            "BEGIN TRANSACTION",
            "BEGIN DEFERRED",
            "COMMIT TRANSACTION",
            "ROLLBACK TRANSACTION",
            "RELEASE sp",
            "START TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            "START TRANSACTION READ ONLY,",
            "SAVEPOINT",
            "ROLLBACK TO",
            "ROLLBACK TO SAVEPOINT",
            "COMMIT AND",
        ] {
            assert!(!is_mariadb_form(sql, Syntax::default()), "{sql}");
        }
    }
}
