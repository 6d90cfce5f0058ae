//! The statement deadline: while a statement with a time bound runs, every read and write on
//! a backend connection of its task stops at the bound ([`BackendStream`] asks [`passed`]
//! whenever it would wait), so a frozen server holds a statement no longer than its bound.
//!
//! One timer per bounded statement, shared by all the connections its task uses: they all wake
//! the same task. A task the statement spawns (a scatter's shard) runs in a scope of its own
//! with the same deadline ([`current`]).
//!
//! [`BackendStream`]: crate::tls::BackendStream

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::Context;

use tokio::time::{Instant, Sleep};

tokio::task_local! {
    static DEADLINE: Bound;
}

/// The deadline of the statement a task runs, and its timer.
struct Bound {
    at: Instant,
    timer: RefCell<Pin<Box<Sleep>>>,
}

/// Runs `work` with every backend read and write bounded by `at`.
pub async fn within<F: Future>(at: Instant, work: F) -> F::Output {
    let bound = Bound {
        at,
        timer: RefCell::new(Box::pin(tokio::time::sleep_until(at))),
    };
    DEADLINE.scope(bound, work).await
}

/// The deadline of the statement the current task runs, if bounded.
pub fn current() -> Option<Instant> {
    DEADLINE.try_with(|b| b.at).ok()
}

/// Whether the current task's statement deadline has passed; when it has not, the task is woken
/// when it does. Called by a stream about to wait for its peer.
pub(crate) fn passed(cx: &mut Context<'_>) -> bool {
    DEADLINE
        .try_with(|b| b.timer.borrow_mut().as_mut().poll(cx).is_ready())
        .unwrap_or(false)
}

/// The error a stream gives when the statement deadline passed while it waited.
pub(crate) fn error() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, DeadlinePassed)
}

/// Marks the I/O error of a passed deadline (see [`crate::ProtocolError::Deadline`]).
#[derive(Debug, thiserror::Error)]
#[error("the statement's time bound passed")]
pub(crate) struct DeadlinePassed;

/// Whether `e` is the error of a passed statement deadline.
pub(crate) fn is_deadline(e: &std::io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.is::<DeadlinePassed>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn outside_a_bound_nothing_passes() {
        assert!(current().is_none());
        let waker = std::task::Waker::noop();
        assert!(!passed(&mut Context::from_waker(waker)));
    }

    #[tokio::test]
    async fn a_bound_is_seen_by_its_task_and_passes() {
        let at = Instant::now() + Duration::from_millis(20);
        let seen = within(at, async {
            assert_eq!(current(), Some(at));
            let waker = std::task::Waker::noop();
            let before = passed(&mut Context::from_waker(waker));
            tokio::time::sleep_until(at).await;
            (before, passed(&mut Context::from_waker(waker)))
        })
        .await;
        assert_eq!(seen, (false, true));
    }

    #[tokio::test]
    async fn a_waiting_read_ends_with_the_deadline_error() {
        let (_peer, stream) = tokio::io::duplex(64);
        let mut stream = Waiting(stream);
        let at = Instant::now() + Duration::from_millis(20);
        let mut buf = [0u8; 8];
        let read = within(at, stream.read(&mut buf)).await;
        assert!(is_deadline(&read.unwrap_err()));
    }

    /// A stream that asks the deadline whenever it would wait, as `BackendStream` does.
    struct Waiting(tokio::io::DuplexStream);

    impl tokio::io::AsyncRead for Waiting {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            match Pin::new(&mut self.0).poll_read(cx, buf) {
                std::task::Poll::Pending if passed(cx) => std::task::Poll::Ready(Err(error())),
                other => other,
            }
        }
    }
}
