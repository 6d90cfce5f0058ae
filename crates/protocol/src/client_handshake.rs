//! The client side of the connection phase, toward a backend MariaDB/MySQL server.

use mysql_common::auth::plugins::caching_sha2_password::scramble_sha256;
use mysql_common::auth::plugins::mysql_native_password::scramble_native;
use mysql_common::io::ParseBuf;
use mysql_common::packets::{
    AuthPlugin, AuthSwitchRequest, ComChangeUser, ComChangeUserMoreData, HandshakePacket,
    HandshakeResponse, SslRequest,
};
use mysql_common::proto::MySerialize;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::tls::{BackendStream, BackendTls};
use crate::{CapabilityFlags, MariadbCapabilities, PacketConn, ProtocolError, StatusFlags};
use shardgate_wire::packets::parse_err;

/// Capabilities the proxy always asks a backend for; those that change what answers say
/// (CLIENT_DEPRECATE_EOF, CLIENT_FOUND_ROWS, CLIENT_MULTI_RESULTS, …) are added per connection
/// to mirror the client. CLIENT_LOCAL_FILES: the proxy relays a LOAD DATA LOCAL request to
/// clients that allow it and answers it for those that don't (see [`crate::local_infile`]).
pub const BACKEND_BASE_CAPABILITIES: CapabilityFlags = CapabilityFlags::from_bits_truncate(
    (crate::COMMON_CAPABILITIES.bits()
        & !(CapabilityFlags::CLIENT_MULTI_RESULTS.bits()
            | CapabilityFlags::CLIENT_PS_MULTI_RESULTS.bits()))
        | CapabilityFlags::CLIENT_LOCAL_FILES.bits(),
);

/// Credentials and options for logging in to a backend.
#[derive(Debug, Clone)]
pub struct BackendLogin<'a> {
    pub user: &'a str,
    pub password: &'a str,
    /// Logs in with `SHA1(password)` instead of `password` (a client's MariaDB account the
    /// proxy passes through): mysql_native_password only.
    pub native_stage1: Option<&'a [u8; 20]>,
    pub database: Option<&'a str>,
    pub capabilities: CapabilityFlags,
    /// MariaDB extended capabilities to ask for (those the server offers are granted).
    pub mariadb_capabilities: MariadbCapabilities,
}

/// What the backend told us about itself.
#[derive(Debug, Clone)]
pub struct BackendHello {
    pub connection_id: u32,
    pub server_version: String,
    pub capabilities: CapabilityFlags,
    /// The MariaDB extended capabilities granted.
    pub mariadb_capabilities: MariadbCapabilities,
    /// The MariaDB extended capabilities the server offered.
    pub server_mariadb_capabilities: MariadbCapabilities,
    pub status: StatusFlags,
    /// The plugin and scramble the login authenticated with: COM_CHANGE_USER answers the
    /// same challenge.
    pub auth_plugin: AuthPlugin<'static>,
    pub scramble: Vec<u8>,
}

fn auth_response(plugin: &AuthPlugin<'_>, nonce: &[u8], login: &BackendLogin<'_>) -> Vec<u8> {
    let password = login.password;
    if let Some(stage1) = login.native_stage1 {
        return native_from_stage1(nonce, stage1).to_vec();
    }
    match plugin {
        AuthPlugin::CachingSha2Password => {
            let mut n = [0u8; 20];
            let len = nonce.len().min(20);
            n[..len].copy_from_slice(&nonce[..len]);
            scramble_sha256(&n, password.as_bytes()).map(|s| s.to_vec())
        }
        _ => scramble_native(nonce, password.as_bytes()).map(|s| s.to_vec()),
    }
    .unwrap_or_default()
}

/// mysql_native_password's answer to `nonce` from `SHA1(password)`:
/// `stage1 XOR SHA1(nonce + SHA1(stage1))`.
pub fn native_from_stage1(nonce: &[u8], stage1: &[u8; 20]) -> [u8; 20] {
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    h.update(&nonce[..nonce.len().min(20)]);
    h.update(Sha1::digest(stage1));
    let mask = h.finalize();
    let mut out = *stage1;
    for (o, m) in out.iter_mut().zip(mask) {
        *o ^= m;
    }
    out
}

/// The server's greeting, as the login answers it.
struct ServerGreeting {
    nonce: Vec<u8>,
    capabilities: CapabilityFlags,
    mariadb_capabilities: MariadbCapabilities,
    /// The server offers CLIENT_SSL.
    offers_tls: bool,
    plugin: AuthPlugin<'static>,
    version: (u16, u16, u16),
    hello: BackendHello,
}

/// Reads the greeting and works out the capabilities `login` asks for.
async fn read_greeting<S>(
    conn: &mut PacketConn<S>,
    login: &BackendLogin<'_>,
) -> Result<ServerGreeting, ProtocolError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    conn.reset_seq();
    let greeting = conn.read_packet().await?;
    if let Some(e) = parse_err(&greeting) {
        return Err(ProtocolError::Server(e));
    }
    let hs: HandshakePacket<'_> = ParseBuf(&greeting)
        .parse(())
        .map_err(|e| ProtocolError::malformed(format!("server greeting: {e}")))?;
    let mut nonce = hs.nonce();
    if nonce.last() == Some(&0) {
        nonce.pop();
    }
    let server_caps = hs.capabilities();
    if !server_caps.contains(CapabilityFlags::CLIENT_PROTOCOL_41) {
        return Err(ProtocolError::Unsupported(
            "backend does not speak protocol 4.1".into(),
        ));
    }
    let mut caps = login.capabilities & server_caps;
    // A server setting CLIENT_MYSQL is MySQL: the greeting's last 4 filler bytes are no flags.
    let server_mariadb_caps = match server_caps.contains(CapabilityFlags::CLIENT_LONG_PASSWORD) {
        true => MariadbCapabilities::empty(),
        false => hs.mariadb_ext_capabilities(),
    };
    let mariadb_caps = login.mariadb_capabilities & server_mariadb_caps;
    if login.database.is_some() {
        caps |= CapabilityFlags::CLIENT_CONNECT_WITH_DB;
    }
    let plugin = match hs.auth_plugin() {
        Some(p @ AuthPlugin::CachingSha2Password) => p.into_owned(),
        _ => AuthPlugin::MysqlNativePassword,
    };
    Ok(ServerGreeting {
        nonce,
        capabilities: caps,
        mariadb_capabilities: mariadb_caps,
        offers_tls: server_caps.contains(CapabilityFlags::CLIENT_SSL),
        plugin,
        version: hs.server_version_parsed().unwrap_or((5, 5, 5)),
        hello: BackendHello {
            connection_id: hs.connection_id(),
            server_version: String::from_utf8_lossy(hs.server_version_ref()).into_owned(),
            capabilities: caps,
            mariadb_capabilities: mariadb_caps,
            server_mariadb_capabilities: server_mariadb_caps,
            status: hs.status_flags(),
            auth_plugin: AuthPlugin::MysqlNativePassword,
            scramble: Vec::new(),
        },
    })
}

/// Logs in over a plain stream: reads the greeting, answers it, follows auth switches, and
/// returns at the final OK.
pub async fn login<S>(
    conn: &mut PacketConn<S>,
    login: &BackendLogin<'_>,
) -> Result<BackendHello, ProtocolError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let greeting = read_greeting(conn, login).await?;
    authenticate(conn, login, greeting, false).await
}

/// Logs in as [`login`] does, over TLS when `tls` asks for it: after the greeting, an
/// SSLRequest and the TLS handshake with `host` (whose certificate `tls` checks), then the
/// handshake response, encrypted. A server that does not offer TLS is refused when `tls`
/// requires it and served in plain text otherwise.
pub async fn login_with_tls(
    conn: &mut PacketConn<BackendStream>,
    login: &BackendLogin<'_>,
    tls: Option<&BackendTls>,
    host: &str,
) -> Result<BackendHello, ProtocolError> {
    let mut greeting = read_greeting(conn, login).await?;
    let Some(tls) = tls else {
        return authenticate(conn, login, greeting, false).await;
    };
    if !greeting.offers_tls {
        if tls.required {
            return Err(ProtocolError::Unsupported(
                "the server does not offer TLS, which [backend] tls requires".into(),
            ));
        }
        return authenticate(conn, login, greeting, false).await;
    }
    greeting.capabilities |= CapabilityFlags::CLIENT_SSL;
    greeting.hello.capabilities = greeting.capabilities;
    let request = SslRequest::new(
        greeting.capabilities,
        crate::MAX_PACKET_SIZE as u32,
        crate::UTF8MB4_GENERAL_CI,
    )
    .with_mariadb_capabilities(greeting.mariadb_capabilities);
    let mut buf = Vec::with_capacity(32);
    request.serialize(&mut buf);
    conn.write_packet(&buf).await?;
    conn.stream_mut()
        .upgrade(tls, host)
        .await
        .map_err(|e| ProtocolError::Unsupported(format!("TLS handshake: {e}")))?;
    authenticate(conn, login, greeting, true).await
}

/// Sends the handshake response to `greeting`, follows auth switches, and returns at the
/// final OK; `secure`: the connection is encrypted, so a password may be sent as it is.
async fn authenticate<S>(
    conn: &mut PacketConn<S>,
    login: &BackendLogin<'_>,
    greeting: ServerGreeting,
    secure: bool,
) -> Result<BackendHello, ProtocolError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let ServerGreeting {
        nonce,
        capabilities: caps,
        mariadb_capabilities: mariadb_caps,
        plugin,
        version,
        mut hello,
        ..
    } = greeting;
    let response = HandshakeResponse::new(
        Some(auth_response(&plugin, &nonce, login)),
        version,
        Some(login.user.as_bytes()),
        login.database.map(str::as_bytes),
        Some(plugin.clone()),
        caps,
        None,
        crate::MAX_PACKET_SIZE as u32,
    )
    .with_mariadb_ext_capabilities(mariadb_caps);
    let mut buf = Vec::with_capacity(128);
    response.serialize(&mut buf);
    conn.write_packet(&buf).await?;
    hello.auth_plugin = plugin;
    hello.scramble = nonce;
    finish_auth(conn, login, &mut hello, secure).await?;
    Ok(hello)
}

/// COM_CHANGE_USER to `login`'s user and database (`None`: no database): the connection
/// starts over as a fresh session of that user (variables, temporary tables, prepared
/// statements and any transaction are gone). `hello` is the connection's login.
pub async fn change_user<S>(
    conn: &mut PacketConn<S>,
    login: &BackendLogin<'_>,
    hello: &mut BackendHello,
    secure: bool,
) -> Result<(), ProtocolError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let attributes = hello
        .capabilities
        .contains(CapabilityFlags::CLIENT_CONNECT_ATTRS)
        .then(Default::default);
    let more = ComChangeUserMoreData::new(crate::UTF8MB4_GENERAL_CI.into())
        .with_auth_plugin(Some(hello.auth_plugin.clone()))
        .with_connect_attributes(attributes);
    let request = ComChangeUser::new()
        .with_user(Some(login.user.as_bytes()))
        .with_auth_plugin_data(Some(auth_response(
            &hello.auth_plugin,
            &hello.scramble,
            login,
        )))
        .with_database(login.database.map(str::as_bytes))
        .with_more_data(Some(more));
    let mut buf = Vec::with_capacity(128);
    request.serialize(&mut buf);
    conn.reset_seq();
    conn.write_packet(&buf).await?;
    finish_auth(conn, login, hello, secure).await
}

/// Follows the server's answers to an authentication (auth switches, caching_sha2_password's
/// exchanges) until its final OK; `hello` keeps the plugin and scramble last used.
async fn finish_auth<S>(
    conn: &mut PacketConn<S>,
    login: &BackendLogin<'_>,
    hello: &mut BackendHello,
    secure: bool,
) -> Result<(), ProtocolError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let packet = conn.read_packet().await?;
        match packet.first() {
            Some(0x00) => return Ok(()),
            Some(0xFF) => {
                return Err(ProtocolError::Server(
                    parse_err(&packet)
                        .ok_or_else(|| ProtocolError::malformed("auth error packet"))?,
                ))
            }
            Some(0xFE) => {
                let switch: AuthSwitchRequest<'_> = ParseBuf(&packet)
                    .parse(())
                    .map_err(|e| ProtocolError::malformed(format!("auth switch: {e}")))?;
                hello.auth_plugin = switch.auth_plugin().into_owned();
                hello.scramble = switch.plugin_data().to_vec();
                if hello.scramble.last() == Some(&0) {
                    hello.scramble.pop();
                }
                match hello.auth_plugin {
                    AuthPlugin::MysqlNativePassword => {}
                    AuthPlugin::CachingSha2Password if login.native_stage1.is_none() => {}
                    ref other => {
                        return Err(ProtocolError::Unsupported(format!(
                            "backend asked for auth plugin {:?}",
                            String::from_utf8_lossy(other.as_bytes())
                        )))
                    }
                }
                conn.write_packet(&auth_response(&hello.auth_plugin, &hello.scramble, login))
                    .await?;
            }
            Some(0x01) if hello.auth_plugin == AuthPlugin::CachingSha2Password => {
                let password = login.password;
                match packet.get(1) {
                    Some(0x03) => {} // fast auth succeeded; the OK follows
                    Some(0x04) if secure => {
                        // Full authentication over TLS: the password itself, NUL-terminated.
                        let mut pass = password.as_bytes().to_vec();
                        pass.push(0);
                        conn.write_packet(&pass).await?;
                    }
                    Some(0x04) => {
                        // Full authentication without TLS: fetch the server's RSA key and send
                        // the password encrypted with it.
                        conn.write_packet(&[0x02]).await?;
                        let key = conn.read_packet().await?;
                        let key = key
                            .get(1..)
                            .ok_or_else(|| ProtocolError::malformed("public key packet"))?;
                        let mut pass = password.as_bytes().to_vec();
                        pass.push(0);
                        let nonce = &hello.scramble;
                        for (i, b) in pass.iter_mut().enumerate() {
                            *b ^= nonce[i % nonce.len()];
                        }
                        let encrypted = mysql_common::crypto::encrypt(&pass, key).map_err(|e| {
                            ProtocolError::malformed(format!("backend public key: {e:?}"))
                        })?;
                        conn.write_packet(&encrypted).await?;
                    }
                    _ => {
                        return Err(ProtocolError::malformed(
                            "unexpected caching_sha2_password data",
                        ))
                    }
                }
            }
            _ => {
                return Err(ProtocolError::malformed(
                    "unexpected packet during backend login",
                ))
            }
        }
    }
}
