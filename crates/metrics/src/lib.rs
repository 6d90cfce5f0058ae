//! Prometheus metrics of the proxy: one process-wide registry, the hot-spot score and the
//! HTTP endpoint that serves them.

pub mod hotspot;
mod http;
pub mod migration;
mod registry;

pub use http::{serve, Probe};
pub use registry::{metrics, Metrics};
