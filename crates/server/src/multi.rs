//! COM_QUERY texts that hold several statements, and the client's say over them
//! (CLIENT_MULTI_STATEMENTS at login, COM_SET_OPTION later).
//!
//! The text is cut where MariaDB cuts it (`shardgate_router::next_statement`), one statement
//! at a time under the session's `sql_mode` of the moment, and each statement runs through the
//! one-statement path on its own, so each is planned and routed by itself. The answers follow one another in one exchange: each but the last ends with
//! `SERVER_MORE_RESULTS_EXISTS`, forwarded answers take the client's next sequence ids
//! (`Relay`), and after an error nothing more runs, as in MariaDB.

use shardgate_protocol::forward::Relay;
use shardgate_protocol::CapabilityFlags;
use shardgate_router::{next_statement, Piece};
use shardgate_wire::packets;

use crate::errors::ClientError;
use crate::session::{End, Session, Step};

impl Session {
    /// A COM_QUERY text with a `;` in it: one statement, or several run in order. Each is
    /// read under the `sql_mode` the ones before it left, as MariaDB reads them.
    pub(crate) async fn query_statements(&mut self, text: &[u8]) -> Step {
        let multi = (self.capabilities).contains(CapabilityFlags::CLIENT_MULTI_STATEMENTS);
        let mut from = 0;
        loop {
            let (piece, next) = next_statement(text, from, self.syntax, multi);
            if let (0, None, Piece::Statement(statement)) = (from, next, &piece) {
                return self.statement(&text[statement.clone()]).await;
            }
            self.client.set_relay(Relay {
                renumber: true,
                more_results: next.is_some(),
            });
            self.answered_error = false;
            self.statement_assigns.clear();
            self.statement_reads_last_insert_id = false;
            self.statement_insert = None;
            match piece {
                Piece::Statement(statement) => self.statement(&text[statement]).await?,
                Piece::Empty => self.send_ok(0, 0).await?,
                Piece::SyntaxError(at) => {
                    let e = crate::errors::syntax_error_near(text, at, self.syntax);
                    self.send_error(e).await?
                }
            }
            match next {
                Some(next) if !self.answered_error && !self.released => from = next,
                _ => break,
            }
        }
        self.client.set_relay(Relay::default());
        Ok(())
    }

    /// COM_SET_OPTION: the client turns multi-statement texts on (0) or off (1).
    pub(crate) async fn set_option(&mut self, arg: &[u8]) -> Step {
        match arg {
            [0, 0] => self.capabilities |= CapabilityFlags::CLIENT_MULTI_STATEMENTS,
            [1, 0] => self.capabilities -= CapabilityFlags::CLIENT_MULTI_STATEMENTS,
            // MariaDB's answer to an option it does not know.
            _ => {
                let e = ClientError::new(1047, b"08S01", "Unknown command");
                return self.send_error(e).await;
            }
        }
        let eof = packets::result_terminator(self.capabilities, self.status(), 0);
        self.client.write_packet(&eof).await.map_err(End::Client)
    }
}
