//! `GROUP BY a DESC, b ASC`: MariaDB sorts the groups in those directions when the query has
//! no ORDER BY (its implicit order of grouped rows), and ignores them when it has one. The
//! parser does not read a direction in GROUP BY, so [`take`] takes the `ASC` / `DESC` words out
//! of the tokens it reads (the text sent keeps them, spans are the text's) and [`restore`]
//! gives each such query block the ORDER BY they stand for. A direction that cannot be tied to
//! its GROUP BY item, or one before `WITH ROLLUP` (which MariaDB does not let an ORDER BY
//! follow), stays in the tokens: the parser refuses it, as before.

use std::ops::ControlFlow;

use sqlparser::ast::{
    GroupByExpr, OrderBy, OrderByExpr, OrderByKind, OrderByOptions, OrderBySort, Query, Select,
    SetExpr, Spanned, Statement, VisitMut, VisitorMut,
};
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan};

/// A direction taken out: the GROUP BY it is in (where its `BY` ends), the item it follows
/// (0-based), and whether it is `DESC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Direction {
    by: Location,
    item: usize,
    desc: bool,
}

/// What [`take`] took out, and where every GROUP BY of the text is (where its `BY` ends).
#[derive(Debug, Default)]
pub(crate) struct Taken {
    directions: Vec<Direction>,
    clauses: Vec<Location>,
}

/// Takes the `ASC` / `DESC` words that follow GROUP BY items out of `tokens`.
pub(crate) fn take(tokens: &mut Vec<TokenWithSpan>) -> Taken {
    let mut clauses = Vec::new();
    let mut taken: Vec<(usize, Direction)> = Vec::new();
    let mut depth = 0usize;
    // The depth of the GROUP BY being read, where its BY ends, the item read, its candidates.
    let mut clause: Option<usize> = None;
    let mut by = Location::new(0, 0);
    let mut item = 0usize;
    let mut candidates: Vec<(usize, Direction)> = Vec::new();
    // The last token that is not whitespace, and where it ends.
    let mut previous: Option<usize> = None;
    let word = |from: usize| {
        (from..tokens.len()).find(|&i| !matches!(tokens[i].token, Token::Whitespace(_)))
    };
    let keyword = |i: usize| match &tokens[i].token {
        Token::Word(w) if w.quote_style.is_none() => Some(w.keyword),
        _ => None,
    };
    let mut at = word(0);
    while let Some(i) = at {
        at = word(i + 1);
        let next = at;
        match &tokens[i].token {
            Token::LParen => depth += 1,
            Token::RParen => {
                if clause == Some(depth) {
                    taken.append(&mut candidates);
                    clause = None;
                }
                depth = depth.saturating_sub(1);
            }
            Token::SemiColon if clause.is_some() => {
                taken.append(&mut candidates);
                clause = None;
            }
            _ => {}
        }
        let kw = keyword(i);
        if clause == Some(depth) {
            match kw {
                Some(Keyword::ASC | Keyword::DESC)
                    if previous.is_some_and(|p| !matches!(tokens[p].token, Token::Comma))
                        && next.is_none_or(|j| {
                            matches!(
                                tokens[j].token,
                                Token::Comma | Token::RParen | Token::SemiColon
                            ) || ends_clause(keyword(j))
                        }) =>
                {
                    candidates.push((
                        i,
                        Direction {
                            by,
                            item,
                            desc: kw == Some(Keyword::DESC),
                        },
                    ));
                }
                Some(Keyword::WITH) => {
                    // `WITH ROLLUP`: no ORDER BY may follow; leave the parser to refuse.
                    candidates.clear();
                    clause = None;
                }
                k if ends_clause(k) => {
                    taken.append(&mut candidates);
                    clause = None;
                }
                _ => {}
            }
        } else if kw == Some(Keyword::BY)
            && previous.is_some_and(|p| keyword(p) == Some(Keyword::GROUP))
        {
            clause = Some(depth);
            by = tokens[i].span.end;
            clauses.push(by);
            item = 0;
        }
        if clause == Some(depth) && matches!(tokens[i].token, Token::Comma) {
            item += 1;
        }
        previous = Some(i);
    }
    if clause.is_some() {
        taken.append(&mut candidates);
    }
    if taken.is_empty() {
        return Taken::default();
    }
    let mut at = taken.iter().map(|(i, _)| *i).peekable();
    let mut index = 0usize;
    tokens.retain(|_| {
        let keep = at.peek() != Some(&index);
        if !keep {
            at.next();
        }
        index += 1;
        keep
    });
    Taken {
        directions: taken.into_iter().map(|(_, d)| d).collect(),
        clauses,
    }
}

/// `sql` without the `ASC` / `DESC` words of a GROUP BY that ends `WITH ROLLUP` (which the
/// parser does not read, and no ORDER BY may stand for), when it has any: text to plan by,
/// whose route is the statement's (the directions order its groups, never place them).
pub(crate) fn without_rollup_directions(sql: &str, syntax: crate::Syntax) -> Option<String> {
    let tokens = crate::lex::tokenize(sql, syntax, false).ok()?;
    let significant: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i].token, Token::Whitespace(_)))
        .collect();
    let keyword = |k: usize| match &tokens[significant[k]].token {
        Token::Word(w) if w.quote_style.is_none() => Some(w.keyword),
        _ => None,
    };
    let mut offsets = crate::rewrite::Offsets::new(sql);
    let mut edits = Vec::new();
    let mut depth = 0usize;
    // Per depth: the directions read since its GROUP BY.
    let mut open: Vec<(usize, Vec<usize>)> = Vec::new();
    for k in 0..significant.len() {
        match &tokens[significant[k]].token {
            Token::LParen => depth += 1,
            Token::RParen => {
                open.retain(|(d, _)| *d < depth);
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
        let kw = keyword(k);
        if kw == Some(Keyword::BY) && k > 0 && keyword(k - 1) == Some(Keyword::GROUP) {
            open.retain(|(d, _)| *d != depth);
            open.push((depth, Vec::new()));
            continue;
        }
        let Some((_, directions)) = open.iter_mut().rev().find(|(d, _)| *d == depth) else {
            continue;
        };
        match kw {
            Some(Keyword::ASC | Keyword::DESC) => directions.push(k),
            Some(Keyword::WITH)
                if k + 1 < significant.len() && keyword(k + 1) == Some(Keyword::ROLLUP) =>
            {
                for &d in directions.iter() {
                    let span = tokens[significant[d]].span;
                    edits.push((
                        offsets.at(span.start)?..offsets.at(span.end)?,
                        String::new(),
                    ));
                }
                open.retain(|(d, _)| *d != depth);
            }
            k if ends_clause(k) => open.retain(|(d, _)| *d != depth),
            _ => {}
        }
    }
    match edits.is_empty() {
        true => None,
        false => crate::rewrite::spliced(sql, edits),
    }
}

/// Keywords that end a GROUP BY clause.
fn ends_clause(keyword: Option<Keyword>) -> bool {
    matches!(
        keyword,
        Some(
            Keyword::HAVING
                | Keyword::ORDER
                | Keyword::LIMIT
                | Keyword::WINDOW
                | Keyword::UNION
                | Keyword::INTERSECT
                | Keyword::EXCEPT
                | Keyword::FOR
                | Keyword::LOCK
                | Keyword::INTO
                | Keyword::OFFSET
                | Keyword::FETCH
                | Keyword::PROCEDURE
                | Keyword::QUALIFY
        )
    )
}

/// Gives each query block whose GROUP BY had `directions` the ORDER BY they stand for (when
/// it has none). `false` when a direction belongs to no GROUP BY item of `statements`.
pub(crate) fn restore(statements: &mut [Statement], taken: &Taken) -> bool {
    if taken.directions.is_empty() {
        return true;
    }
    struct Restorer<'d> {
        taken: &'d Taken,
        used: usize,
    }
    impl Restorer<'_> {
        /// The direction of each GROUP BY item of `select`, if it had any (counted as used).
        fn directions_of(&mut self, select: &Select) -> Option<Vec<Option<bool>>> {
            let GroupByExpr::Expressions(items, _) = &select.group_by else {
                return None;
            };
            // Its GROUP BY is the last one whose BY comes before its first item.
            let first = items.first().map(|i| i.span().start)?;
            let by = (self.taken.clauses.iter())
                .filter(|by| **by <= first)
                .max()
                .copied()?;
            let found: Vec<Option<bool>> = (0..items.len())
                .map(|n| {
                    (self.taken.directions.iter())
                        .find(|d| d.by == by && d.item == n)
                        .map(|d| d.desc)
                })
                .collect();
            let given = found.iter().flatten().count();
            self.used += given;
            (given > 0).then_some(found)
        }

        /// The bare SELECT branches of a set operation: their rows have no order of their own
        /// in the result, so their directions mean nothing (a parenthesized branch is a query
        /// block of its own).
        fn branches(&mut self, body: &SetExpr) {
            match body {
                SetExpr::Select(select) => {
                    self.directions_of(select);
                }
                SetExpr::SetOperation { left, right, .. } => {
                    self.branches(left);
                    self.branches(right);
                }
                _ => {}
            }
        }
    }
    impl VisitorMut for Restorer<'_> {
        type Break = ();
        fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
            let select = match query.body.as_ref() {
                SetExpr::Select(select) => select,
                body @ SetExpr::SetOperation { .. } => {
                    self.branches(body);
                    return ControlFlow::Continue(());
                }
                _ => return ControlFlow::Continue(()),
            };
            let Some(found) = self.directions_of(select) else {
                return ControlFlow::Continue(());
            };
            let GroupByExpr::Expressions(items, modifiers) = &select.group_by else {
                return ControlFlow::Continue(());
            };
            if query.order_by.is_none() && modifiers.is_empty() {
                let exprs = (items.iter().zip(found))
                    .map(|(item, desc)| OrderByExpr {
                        expr: item.clone(),
                        options: OrderByOptions {
                            sort: desc.map(|d| match d {
                                true => OrderBySort::Desc,
                                false => OrderBySort::Asc,
                            }),
                            nulls_first: None,
                        },
                        with_fill: None,
                    })
                    .collect();
                query.order_by = Some(OrderBy {
                    kind: OrderByKind::Expressions(exprs),
                    interpolate: None,
                });
            }
            ControlFlow::Continue(())
        }
    }
    let mut restorer = Restorer { taken, used: 0 };
    for statement in statements.iter_mut() {
        let _ = statement.visit(&mut restorer);
    }
    restorer.used == taken.directions.len()
}

#[cfg(test)]
mod tests {
    use crate::Syntax;

    fn parsed(sql: &str) -> Option<String> {
        crate::lex::parse(sql, Syntax::default())
            .ok()
            .map(|s| s[0].to_string())
    }

    #[test]
    fn directions_become_the_query_blocks_order() {
        assert_eq!(
            parsed("SELECT a, COUNT(*) FROM t GROUP BY a DESC").as_deref(),
            Some("SELECT a, COUNT(*) FROM t GROUP BY a ORDER BY a DESC")
        );
        assert_eq!(
            parsed("SELECT a, b FROM t GROUP BY a DESC, (b + 1) ASC, c LIMIT 3").as_deref(),
            Some(
                "SELECT a, b FROM t GROUP BY a, (b + 1), c ORDER BY a DESC, (b + 1) ASC, c LIMIT 3"
            )
        );
        // An ORDER BY of its own wins, as in MariaDB.
        assert_eq!(
            parsed("SELECT a FROM t GROUP BY a DESC HAVING a > 1 ORDER BY a").as_deref(),
            Some("SELECT a FROM t GROUP BY a HAVING a > 1 ORDER BY a")
        );
        // In a subquery, tied to its own block.
        assert_eq!(
            parsed("SELECT * FROM (SELECT a FROM t GROUP BY a DESC LIMIT 2) AS d GROUP BY a").as_deref(),
            Some("SELECT * FROM (SELECT a FROM t GROUP BY a ORDER BY a DESC LIMIT 2) AS d GROUP BY a")
        );
    }

    #[test]
    fn what_is_not_a_group_by_direction_stays() {
        // WITH ROLLUP: MariaDB lets no ORDER BY follow it; the parser refuses as before.
        assert_eq!(parsed("SELECT a FROM t GROUP BY a DESC WITH ROLLUP"), None);
        // A bare branch of a set operation: its rows have no order of their own.
        assert_eq!(
            parsed("SELECT a FROM t GROUP BY a DESC UNION ALL SELECT b FROM u GROUP BY b ASC ORDER BY 1")
                .as_deref(),
            Some("SELECT a FROM t GROUP BY a UNION ALL SELECT b FROM u GROUP BY b ORDER BY 1")
        );
        // ORDER BY directions, and names that are not keywords, are the parser's.
        assert_eq!(
            parsed("SELECT `desc` FROM t GROUP BY `desc` ORDER BY `desc` DESC").as_deref(),
            Some("SELECT `desc` FROM t GROUP BY `desc` ORDER BY `desc` DESC")
        );
        assert_eq!(
            parsed("SELECT GROUP_CONCAT(a ORDER BY a DESC) FROM t GROUP BY b").as_deref(),
            Some("SELECT GROUP_CONCAT(a ORDER BY a DESC) FROM t GROUP BY b")
        );
    }

    #[test]
    fn rollup_directions_are_left_out_of_the_text_to_plan_by() {
        let plain = |sql: &str| super::without_rollup_directions(sql, crate::Syntax::default());
        assert_eq!(
            plain("SELECT a, COUNT(*) FROM t GROUP BY a DESC, b ASC WITH ROLLUP LIMIT 3")
                .as_deref(),
            Some("SELECT a, COUNT(*) FROM t GROUP BY a , b  WITH ROLLUP LIMIT 3")
        );
        assert_eq!(
            plain("SELECT (SELECT x FROM u ORDER BY x DESC LIMIT 1) FROM t GROUP BY a DESC WITH ROLLUP").as_deref(),
            Some("SELECT (SELECT x FROM u ORDER BY x DESC LIMIT 1) FROM t GROUP BY a  WITH ROLLUP")
        );
        // Without ROLLUP the parser reads the text (`take`); without directions, nothing to do.
        assert_eq!(plain("SELECT a FROM t GROUP BY a DESC"), None);
        assert_eq!(plain("SELECT a FROM t GROUP BY a WITH ROLLUP"), None);
        assert_eq!(
            plain("SELECT a FROM t GROUP BY a DESC HAVING a > 1 ORDER BY a DESC"),
            None
        );
    }
}
