//! Connections of a migration: its own (mysql_async, binary protocol, so values are read and
//! written exactly), to a shard's primary with `[backend]`'s account, database and TLS — not
//! the pools' connections, which serve clients and carry their sessions' variables.

use mysql_async::{Conn, OptsBuilder};
use shardgate_config::{BackendSettings, BackendTls, Endpoint};

/// A connection to `endpoint` in `[backend] database`.
pub(crate) async fn connect(
    backend: &BackendSettings,
    endpoint: &Endpoint,
) -> Result<Conn, mysql_async::Error> {
    let plain = OptsBuilder::default()
        .ip_or_hostname(endpoint.host.clone())
        .tcp_port(endpoint.port)
        .user(Some(backend.user.clone()))
        .pass(Some(backend.password.clone()))
        .db_name(Some(backend.database.clone()).filter(|d| !d.is_empty()))
        .prefer_socket(false)
        .tcp_nodelay(true);
    let ssl = mysql_async::SslOpts::default();
    let ssl = match &backend.tls {
        BackendTls::Disabled => return Conn::new(plain).await,
        BackendTls::Preferred | BackendTls::Required => ssl.with_danger_accept_invalid_certs(true),
        BackendTls::VerifyCa(ca) => ssl
            .with_root_certs(vec![ca.clone().into()])
            .with_disable_built_in_roots(true)
            .with_danger_skip_domain_validation(true),
        BackendTls::VerifyIdentity(ca) => ssl
            .with_root_certs(vec![ca.clone().into()])
            .with_disable_built_in_roots(true),
    };
    match Conn::new(plain.clone().ssl_opts(ssl)).await {
        Err(mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer))
            if backend.tls == BackendTls::Preferred =>
        {
            Conn::new(plain).await
        }
        other => other,
    }
}
