//! The server side of the connection phase: greeting, HandshakeResponse, password check, auth switch.

use mysql_common::auth::plugins::caching_sha2_password::scramble_sha256;
use mysql_common::auth::plugins::mysql_native_password::scramble_native;
use mysql_common::io::ParseBuf;
use mysql_common::packets::{AuthPlugin, AuthSwitchRequest, HandshakePacket, HandshakeResponse};
use mysql_common::proto::MySerialize;
use rand::Rng;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::tls::{ClientStream, ServerTls};
use shardgate_wire::packets;

use crate::{
    CapabilityFlags, MariadbCapabilities, PacketConn, ProtocolError, StatusFlags,
    COMMON_CAPABILITIES, UTF8MB4_GENERAL_CI,
};

/// Capabilities the proxy offers to clients. Without CLIENT_LONG_PASSWORD (which MySQL calls
/// CLIENT_MYSQL), as MariaDB's own greeting: that tells MariaDB clients the greeting carries
/// MariaDB's extended capabilities.
pub const SERVER_CAPABILITIES: CapabilityFlags = CapabilityFlags::from_bits_truncate(
    (COMMON_CAPABILITIES.bits() & !CapabilityFlags::CLIENT_LONG_PASSWORD.bits())
        | CapabilityFlags::CLIENT_FOUND_ROWS.bits()
        | CapabilityFlags::CLIENT_CONNECT_WITH_DB.bits()
        | CapabilityFlags::CLIENT_INTERACTIVE.bits()
        | CapabilityFlags::CLIENT_CONNECT_ATTRS.bits()
        | CapabilityFlags::CLIENT_DEPRECATE_EOF.bits()
        | CapabilityFlags::CLIENT_SESSION_TRACK.bits()
        | CapabilityFlags::CLIENT_LOCAL_FILES.bits()
        | CapabilityFlags::CLIENT_IGNORE_SPACE.bits()
        | CapabilityFlags::CLIENT_NO_SCHEMA.bits(),
);

/// MariaDB's extended capabilities the proxy can offer, when the backends support them.
pub const SERVER_MARIADB_CAPABILITIES: MariadbCapabilities =
    MariadbCapabilities::MARIADB_CLIENT_EXTENDED_METADATA;

const NATIVE: &[u8] = b"mysql_native_password";
/// The largest handshake packet (SSLRequest, HandshakeResponse, auth switch response) read
/// before a client has authenticated; real clients, connection attributes included, stay far
/// below it.
pub const HANDSHAKE_MAX_PACKET: usize = 64 * 1024;
/// An SSLRequest: capabilities, max packet size, collation and 23 filler bytes.
const SSL_REQUEST_LEN: usize = 32;
/// caching_sha2_password's "fast authentication succeeded" marker.
const FAST_AUTH_SUCCESS: u8 = 0x03;

/// The greeting the proxy sends, and the salt the client must scramble its password with.
#[derive(Debug, Clone)]
pub struct Greeting {
    pub connection_id: u32,
    pub server_version: String,
    pub scramble: [u8; 20],
    /// MariaDB extended capabilities offered (a part of [`SERVER_MARIADB_CAPABILITIES`]).
    pub mariadb_capabilities: MariadbCapabilities,
}

impl Greeting {
    /// A greeting with a fresh random salt (printable, NUL-free bytes as MySQL servers use).
    pub fn new(connection_id: u32, server_version: &str) -> Self {
        let mut rng = rand::rng();
        let mut scramble = [0u8; 20];
        for b in &mut scramble {
            *b = rng.random_range(33u8..127);
        }
        Greeting {
            connection_id,
            server_version: server_version.to_owned(),
            scramble,
            mariadb_capabilities: MariadbCapabilities::empty(),
        }
    }

    /// Offers the MariaDB extended capabilities in `offered` that the proxy supports.
    pub fn offering(mut self, offered: MariadbCapabilities) -> Self {
        self.mariadb_capabilities = offered & SERVER_MARIADB_CAPABILITIES;
        self
    }

    /// The greeting packet; `tls` offers CLIENT_SSL.
    fn encode(&self, tls: bool) -> Vec<u8> {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.scramble[..8]);
        let mut rest = self.scramble[8..].to_vec();
        rest.push(0);
        let packet = HandshakePacket::new(
            10,
            self.server_version.as_bytes(),
            self.connection_id,
            first,
            Some(rest),
            if tls {
                SERVER_CAPABILITIES | CapabilityFlags::CLIENT_SSL
            } else {
                SERVER_CAPABILITIES
            },
            UTF8MB4_GENERAL_CI,
            StatusFlags::SERVER_STATUS_AUTOCOMMIT,
            Some(NATIVE),
        )
        .with_mariadb_ext_capabilities(self.mariadb_capabilities);
        let mut buf = Vec::with_capacity(128);
        packet.serialize(&mut buf);
        buf
    }
}

/// A client that passed authentication.
#[derive(Debug, Clone)]
pub struct Login {
    pub user: String,
    pub database: Option<String>,
    /// The capabilities both sides support.
    pub capabilities: CapabilityFlags,
    /// The MariaDB extended capabilities both sides support.
    pub mariadb_capabilities: MariadbCapabilities,
    pub collation: u8,
    /// Set when the client logged in as one of the servers' own accounts (see
    /// [`Account::pass_through`]).
    pub pass_through: Option<PassThrough>,
}

/// A client logged in as a MariaDB account of the servers: the proxy logs in to them as it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PassThrough {
    pub user: String,
    /// `SHA1(password)`, recovered from the client's scramble; `None` for an empty password.
    pub native_stage1: Option<[u8; 20]>,
}

impl std::fmt::Debug for PassThrough {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassThrough")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// What the connection phase needs to know of a configured account.
#[derive(Clone)]
pub struct Account {
    /// The password, or its mysql_native_password hash (see [`Secret::from_config`]); a
    /// pass-through account has one per host it is defined for, and a login may match any.
    pub passwords: Vec<String>,
    /// Logs in over TLS only; a plain login gets 1045, as an account `REQUIRE SSL` does on
    /// MariaDB (and every account under `require_secure_transport`).
    pub require_tls: bool,
    /// One of the servers' own MariaDB accounts (their `mysql.user`), not a configured one: a
    /// login recovers `SHA1(password)` from the client's scramble, with which the proxy logs
    /// in to the servers as the account.
    pub pass_through: bool,
}

/// The configured accounts, as the connection phase consults them.
pub trait Accounts {
    /// The account `user` logs in to, if there is one.
    fn account(&self, user: &str) -> impl std::future::Future<Output = Option<Account>> + Send;

    /// A login as `user` is refused (`without_tls`: for want of TLS); called before the client
    /// is told, so that whatever the caller counts is counted before the client can try again.
    fn denied(&self, _user: &str, _without_tls: bool) {}
}

/// Accounts looked up by a function, refusals not reported.
impl<F: Fn(&str) -> Option<Account>> Accounts for F {
    fn account(&self, user: &str) -> impl std::future::Future<Output = Option<Account>> + Send {
        std::future::ready(self(user))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The client was told (ERR 1045) and the connection should be closed.
    #[error("access denied for user '{user}'{}", if *.without_tls { " (TLS required)" } else { "" })]
    AccessDenied {
        user: String,
        /// The credentials were not checked: the account requires TLS and the connection is
        /// plain.
        without_tls: bool,
    },
    /// The client was told why (an ERR packet) and the connection should be closed.
    #[error("refused: {0}")]
    Refused(String),
}

/// `SHA1(password) XOR SHA1(salt + SHA1(SHA1(password)))` as the client computes it, compared in constant time.
pub fn verify_native(scramble: &[u8; 20], password: &str, response: &[u8]) -> bool {
    match scramble_native(scramble, password.as_bytes()) {
        Some(expected) => constant_time_eq(&expected, response),
        None => response.is_empty(),
    }
}

/// A client account's stored password, as `[[users]] password` gives it.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    Cleartext(String),
    /// `SHA1(SHA1(password))`, written `*` + 40 hex digits (MariaDB's `PASSWORD()`,
    /// `mysql.user.authentication_string` of a mysql_native_password account).
    NativeHash([u8; 20]),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Secret::Cleartext(_) => "Cleartext(..)",
            Secret::NativeHash(_) => "NativeHash(..)",
        })
    }
}

impl Secret {
    /// A `*` + 40 hex digits value is a mysql_native_password hash; anything else is the
    /// password itself.
    pub fn from_config(text: &str) -> Secret {
        match parse_native_hash(text) {
            Some(hash) => Secret::NativeHash(hash),
            None => Secret::Cleartext(text.to_owned()),
        }
    }

    /// `SHA1(password)` from a client's mysql_native_password `response` to `scramble` that
    /// this secret verified; `None` for an empty password (an empty response).
    pub fn native_stage1(&self, scramble: &[u8; 20], response: &[u8]) -> Option<[u8; 20]> {
        if response.is_empty() {
            return None;
        }
        let stage2 = match self {
            Secret::Cleartext(password) => {
                use sha1::{Digest, Sha1};
                Sha1::digest(Sha1::digest(password.as_bytes())).into()
            }
            Secret::NativeHash(hash) => *hash,
        };
        Some(stage1_of(scramble, &stage2, response))
    }

    /// Checks a mysql_native_password scramble of the password against `scramble`.
    pub fn verify_native(&self, scramble: &[u8; 20], response: &[u8]) -> bool {
        match self {
            Secret::Cleartext(password) => verify_native(scramble, password, response),
            Secret::NativeHash(hash) => verify_native_hash(scramble, hash, response),
        }
    }
}

/// The 20 bytes of a `*` + 40 hex digits mysql_native_password hash (either case).
pub fn parse_native_hash(text: &str) -> Option<[u8; 20]> {
    let hex = text.strip_prefix('*')?.as_bytes();
    if hex.len() != 40 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut hash = [0u8; 20];
    for (byte, pair) in hash.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(hash)
}

/// `*` + 40 upper-case hex digits of SHA1(SHA1(password)), as MariaDB's `PASSWORD()` writes it.
pub fn native_hash(password: &str) -> String {
    use sha1::{Digest, Sha1};
    let stage2 = Sha1::digest(Sha1::digest(password.as_bytes()));
    let mut out = String::with_capacity(41);
    out.push('*');
    for b in stage2 {
        out.push_str(&format!("{b:02X}"));
    }
    out
}

/// mysql_native_password checked with only `stage2 = SHA1(SHA1(password))`, as MariaDB does:
/// the response XOR `SHA1(salt + stage2)` is the client's `SHA1(password)`, whose SHA1 must be
/// `stage2`.
pub fn verify_native_hash(scramble: &[u8; 20], stage2: &[u8; 20], response: &[u8]) -> bool {
    if response.len() != 20 {
        return false;
    }
    use sha1::{Digest, Sha1};
    let stage1 = stage1_of(scramble, stage2, response);
    constant_time_eq(&Sha1::digest(stage1), stage2)
}

/// The response XOR `SHA1(salt + stage2)`: the client's `SHA1(password)` if it knew it.
fn stage1_of(scramble: &[u8; 20], stage2: &[u8; 20], response: &[u8]) -> [u8; 20] {
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    h.update(scramble);
    h.update(stage2);
    let mask = h.finalize();
    let mut stage1 = [0u8; 20];
    for ((s, r), m) in stage1.iter_mut().zip(response).zip(mask) {
        *s = r ^ m;
    }
    stage1
}

fn verify_sha2(scramble: &[u8; 20], password: &str, response: &[u8]) -> bool {
    match scramble_sha256(scramble, password.as_bytes()) {
        Some(expected) => constant_time_eq(&expected, response),
        None => response.is_empty(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Runs the connection phase up to the final OK, which the caller sends (it may still refuse,
/// e.g. for an unknown database). With `tls`, CLIENT_SSL is offered and a client's SSLRequest
/// turns the stream into TLS before the HandshakeResponse. Wrong credentials, and a plain
/// login to an account that requires TLS, get ERR 1045 (28000) here.
pub async fn accept(
    conn: &mut PacketConn<ClientStream>,
    greeting: &Greeting,
    tls: Option<&ServerTls>,
    accounts: &impl Accounts,
    peer: &str,
) -> Result<Login, HandshakeError> {
    // Nothing a client sends before it has authenticated may be larger than a handshake.
    let limit = conn.max_packet();
    conn.set_max_packet(limit.min(HANDSHAKE_MAX_PACKET));
    let login = handshake(conn, greeting, tls, accounts, peer).await;
    conn.set_max_packet(limit);
    login
}

async fn handshake(
    conn: &mut PacketConn<ClientStream>,
    greeting: &Greeting,
    tls: Option<&ServerTls>,
    accounts: &impl Accounts,
    peer: &str,
) -> Result<Login, HandshakeError> {
    conn.reset_seq();
    conn.write_packet(&greeting.encode(tls.is_some())).await?;
    let mut payload = conn.read_packet().await?;
    let ssl_request = payload.len() == SSL_REQUEST_LEN
        && CapabilityFlags::from_bits_truncate(u32::from_le_bytes([
            payload[0], payload[1], payload[2], payload[3],
        ]))
        .contains(CapabilityFlags::CLIENT_SSL);
    match (ssl_request, tls) {
        (true, Some(acceptor)) => {
            // The client starts its TLS handshake right after the SSLRequest: bytes of it may
            // be in the read buffer already.
            let read_ahead = conn.read_buffer().split().freeze();
            conn.stream_mut()
                .upgrade(acceptor, read_ahead)
                .await
                .map_err(ProtocolError::Io)?;
            payload = conn.read_packet().await?;
        }
        (true, None) => {
            let reason = "TLS is not enabled on this shardgate listener (set tls_cert_file and tls_key_file)";
            refuse(conn, 1043, b"08S01", reason).await?;
            return Err(HandshakeError::Refused(reason.into()));
        }
        (false, _) => {}
    }
    let hello = match ClientHello::parse(&payload) {
        Ok(hello) => hello,
        Err(HelloError::Malformed(e)) => return Err(e.into()),
        Err(HelloError::Refused(reason)) => {
            refuse(conn, 1043, b"08S01", reason).await?;
            return Err(HandshakeError::Refused(reason.into()));
        }
    };
    let ClientHello {
        mut login,
        plugin,
        auth_data,
    } = hello;
    login.mariadb_capabilities &= greeting.mariadb_capabilities;
    let user = login.user.clone();
    let secure = conn.stream().is_tls();
    login.pass_through = authenticate(
        conn,
        &greeting.scramble,
        &user,
        plugin,
        auth_data,
        accounts,
        secure,
        peer,
    )
    .await?;
    Ok(login)
}

/// A HandshakeResponse41 read from a client (after any SSLRequest).
#[derive(Debug, Clone)]
pub struct ClientHello {
    pub login: Login,
    pub plugin: Option<AuthPlugin<'static>>,
    pub auth_data: Vec<u8>,
}

/// Why a handshake response is not accepted.
#[derive(Debug)]
pub enum HelloError {
    /// Unreadable: the connection is closed.
    Malformed(ProtocolError),
    /// Readable but refused: the client is told why (ERR 1043) before the connection closes.
    Refused(&'static str),
}

impl ClientHello {
    /// Reads a HandshakeResponse41 payload; never panics, whatever the bytes.
    pub fn parse(payload: &[u8]) -> Result<Self, HelloError> {
        if payload.len() < 32 {
            return Err(HelloError::Refused(
                if payload.len() >= 4 && payload[1] & 0x08 != 0 {
                    "TLS is not enabled on this shardgate listener"
                } else {
                    "malformed handshake response"
                },
            ));
        }
        let response: HandshakeResponse<'_> = ParseBuf(payload).parse(()).map_err(|e| {
            HelloError::Malformed(ProtocolError::malformed(format!("handshake response: {e}")))
        })?;
        let client_caps = response.capabilities();
        if !client_caps.contains(CapabilityFlags::CLIENT_PROTOCOL_41) {
            return Err(HelloError::Refused(
                "shardgate requires a client speaking protocol 4.1 (CLIENT_PROTOCOL_41)",
            ));
        }
        let database = response
            .db_name()
            .filter(|d| !d.is_empty())
            .map(|d| String::from_utf8_lossy(d).into_owned());
        Ok(ClientHello {
            login: Login {
                user: String::from_utf8_lossy(response.user()).into_owned(),
                database,
                capabilities: client_caps & SERVER_CAPABILITIES,
                // A client setting CLIENT_MYSQL speaks MySQL's protocol: the bytes are filler.
                mariadb_capabilities: match client_caps
                    .contains(CapabilityFlags::CLIENT_LONG_PASSWORD)
                {
                    true => MariadbCapabilities::empty(),
                    false => response.mariadb_ext_capabilities() & SERVER_MARIADB_CAPABILITIES,
                },
                collation: response.collation(),
                pass_through: None,
            },
            plugin: response.auth_plugin().map(|p| p.clone().into_owned()),
            auth_data: response.scramble_buf().to_vec(),
        })
    }
}

/// Checks `user`'s credentials against `account`: the scramble the client sent for `plugin`,
/// or, for other plugins, a mysql_native_password scramble asked for with an auth switch.
/// Wrong credentials, and an account that requires TLS on a connection that is not `secure`
/// (refused before its password is checked, so a plain connection tells nothing of it), get
/// ERR 1045 (28000), as on MariaDB. A pass-through account's login says how the proxy logs
/// in as it.
#[allow(clippy::too_many_arguments)]
async fn authenticate<S>(
    conn: &mut PacketConn<S>,
    scramble: &[u8; 20],
    user: &str,
    plugin: Option<AuthPlugin<'_>>,
    mut auth_data: Vec<u8>,
    accounts: &impl Accounts,
    secure: bool,
    peer: &str,
) -> Result<Option<PassThrough>, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let account = accounts.account(user).await;
    let without_tls = account.as_ref().is_some_and(|a| a.require_tls && !secure);
    let account = account.filter(|_| !without_tls);
    let secrets: Vec<Secret> = account
        .iter()
        .flat_map(|a| a.passwords.iter().map(|p| Secret::from_config(p)))
        .collect();
    let pass_through = account.as_ref().is_some_and(|a| a.pass_through);
    let matching = |auth_data: &[u8]| {
        secrets
            .iter()
            .find(|s| s.verify_native(scramble, auth_data))
    };
    let matched = match (secrets.as_slice(), plugin) {
        ([], _) => None,
        ([Secret::Cleartext(pw)], Some(AuthPlugin::CachingSha2Password)) => {
            let ok = verify_sha2(scramble, pw, &auth_data);
            if ok {
                conn.write_packet(&[0x01, FAST_AUTH_SUCCESS]).await?;
            }
            ok.then_some(&secrets[0])
        }
        (_, Some(AuthPlugin::MysqlNativePassword) | None) => matching(&auth_data),
        (_, Some(_other)) => {
            // Ask the client to scramble with mysql_native_password instead (also what a
            // stored hash needs: it cannot check a caching_sha2_password scramble).
            let mut salt = scramble.to_vec();
            salt.push(0);
            let mut buf = Vec::new();
            AuthSwitchRequest::new(NATIVE, salt).serialize(&mut buf);
            conn.write_packet(&buf).await?;
            auth_data = conn.read_packet().await?.to_vec();
            matching(&auth_data)
        }
    };
    let Some(matched) = matched else {
        let using = if auth_data.is_empty() { "NO" } else { "YES" };
        let host = peer.rsplit_once(':').map_or(peer, |(h, _)| h);
        let msg = format!("Access denied for user '{user}'@'{host}' (using password: {using})");
        accounts.denied(user, without_tls);
        conn.write_packet(&packets::err(1045, b"28000", &msg))
            .await?;
        return Err(HandshakeError::AccessDenied {
            user: user.to_owned(),
            without_tls,
        });
    };
    Ok(pass_through.then(|| PassThrough {
        user: user.to_owned(),
        native_stage1: matched.native_stage1(scramble, &auth_data),
    }))
}

/// A COM_CHANGE_USER request (the payload after the command byte).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeUser {
    pub user: String,
    pub auth_data: Vec<u8>,
    pub database: Option<String>,
    pub collation: Option<u8>,
    pub plugin: Option<String>,
}

impl ChangeUser {
    pub fn parse(body: &[u8], capabilities: CapabilityFlags) -> Result<Self, ProtocolError> {
        let bad = || ProtocolError::malformed("COM_CHANGE_USER");
        let nul_terminated = |buf: &[u8]| -> Result<(Vec<u8>, usize), ProtocolError> {
            let end = buf.iter().position(|b| *b == 0).ok_or_else(bad)?;
            Ok((buf[..end].to_vec(), end + 1))
        };
        let (user, used) = nul_terminated(body)?;
        let mut rest = &body[used..];
        let auth_data = if capabilities.contains(CapabilityFlags::CLIENT_SECURE_CONNECTION) {
            let len = usize::from(*rest.first().ok_or_else(bad)?);
            let data = rest.get(1..1 + len).ok_or_else(bad)?.to_vec();
            rest = &rest[1 + len..];
            data
        } else {
            let (data, used) = nul_terminated(rest)?;
            rest = &rest[used..];
            data
        };
        let (database, used) = if rest.is_empty() {
            (Vec::new(), 0)
        } else {
            nul_terminated(rest)?
        };
        rest = &rest[used..];
        let mut collation = None;
        let mut plugin = None;
        if rest.len() >= 2 {
            collation = u8::try_from(u16::from_le_bytes([rest[0], rest[1]])).ok();
            rest = &rest[2..];
            if capabilities.contains(CapabilityFlags::CLIENT_PLUGIN_AUTH) && !rest.is_empty() {
                let (name, _) = nul_terminated(rest)?;
                plugin = Some(String::from_utf8_lossy(&name).into_owned());
            }
        }
        Ok(ChangeUser {
            user: String::from_utf8_lossy(&user).into_owned(),
            auth_data,
            database: (!database.is_empty())
                .then(|| String::from_utf8_lossy(&database).into_owned()),
            collation,
            plugin,
        })
    }
}

/// Re-authenticates for COM_CHANGE_USER, scrambled with the connection's handshake salt
/// (or a fresh one after an auth switch); `secure`: the connection runs over TLS. The caller
/// sends the final OK. A pass-through account's login says how the proxy logs in as it.
pub async fn change_user<S>(
    conn: &mut PacketConn<S>,
    scramble: &[u8; 20],
    request: &ChangeUser,
    accounts: &impl Accounts,
    secure: bool,
    peer: &str,
) -> Result<Option<PassThrough>, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let plugin = request
        .plugin
        .as_deref()
        .map(|p| AuthPlugin::from_bytes(p.as_bytes()));
    authenticate(
        conn,
        scramble,
        &request.user,
        plugin,
        request.auth_data.clone(),
        accounts,
        secure,
        peer,
    )
    .await
}

async fn refuse<S>(
    conn: &mut PacketConn<S>,
    code: u16,
    state: &[u8; 5],
    msg: &str,
) -> Result<(), ProtocolError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    conn.write_packet(&packets::err(code, state, msg)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_change_user_and_rejects_truncation() {
        let mut body = b"bob\0".to_vec();
        body.push(20);
        body.extend_from_slice(&[7u8; 20]);
        body.extend_from_slice(b"app\0");
        body.extend_from_slice(&45u16.to_le_bytes());
        body.extend_from_slice(b"mysql_native_password\0");
        let caps = CapabilityFlags::CLIENT_SECURE_CONNECTION | CapabilityFlags::CLIENT_PLUGIN_AUTH;
        let parsed = ChangeUser::parse(&body, caps).unwrap();
        assert_eq!(parsed.user, "bob");
        assert_eq!(parsed.auth_data, vec![7u8; 20]);
        assert_eq!(parsed.database.as_deref(), Some("app"));
        assert_eq!(parsed.collation, Some(45));
        assert_eq!(parsed.plugin.as_deref(), Some("mysql_native_password"));
        for cut in 0..body.len() - 24 {
            let _ = ChangeUser::parse(&body[..cut], caps);
        }
        assert!(ChangeUser::parse(b"no-terminator", caps).is_err());
    }

    /// MariaDB's PASSWORD('password').
    const PASSWORD_HASH: &str = "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19";

    #[test]
    fn native_hashes_are_read_and_written_as_mariadb_does() {
        assert_eq!(native_hash("password"), PASSWORD_HASH);
        let hash = parse_native_hash(PASSWORD_HASH).unwrap();
        assert_eq!(hash[0], 0x24);
        assert_eq!(
            parse_native_hash(&PASSWORD_HASH.to_ascii_lowercase()),
            Some(hash)
        );
        for bad in [
            "",
            "*",
            "2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19",
            "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E1",
            "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19A",
            "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1EZZ",
            "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1É",
        ] {
            assert_eq!(parse_native_hash(bad), None, "{bad:?}");
        }
        assert_eq!(Secret::from_config(PASSWORD_HASH), Secret::NativeHash(hash));
        assert_eq!(Secret::from_config("app"), Secret::Cleartext("app".into()));
    }

    #[test]
    fn a_stored_hash_checks_the_scramble_of_its_password() {
        let scramble = *b"0123456789abcdefghij";
        let hashed = Secret::from_config(PASSWORD_HASH);
        let right = scramble_native(&scramble, b"password").unwrap();
        let wrong = scramble_native(&scramble, b"passwore").unwrap();
        assert!(hashed.verify_native(&scramble, &right));
        assert!(!hashed.verify_native(&scramble, &wrong));
        assert!(!hashed.verify_native(&scramble, &[]));
        assert!(!hashed.verify_native(&scramble, &right[..19]));
        // The same answers as the cleartext password.
        let clear = Secret::from_config("password");
        assert!(clear.verify_native(&scramble, &right));
        assert!(!clear.verify_native(&scramble, &wrong));
    }

    #[tokio::test]
    async fn an_account_requiring_tls_is_refused_in_plain_text_whatever_its_password() {
        let scramble = *b"0123456789abcdefghij";
        let right = scramble_native(&scramble, b"pw").unwrap().to_vec();
        let account = |require_tls| {
            Some(Account {
                passwords: vec!["pw".into()],
                require_tls,
                pass_through: false,
            })
        };
        let login = |account: Option<Account>, secure| {
            let right = right.clone();
            async move {
                let (server, client) = tokio::io::duplex(4096);
                let mut conn = PacketConn::new(server);
                let plugin = Some(AuthPlugin::MysqlNativePassword);
                let accounts = move |_: &str| account.clone();
                let outcome = authenticate(
                    &mut conn,
                    &scramble,
                    "u",
                    plugin,
                    right,
                    &accounts,
                    secure,
                    "10.0.0.1:5",
                )
                .await;
                drop(conn);
                let mut peer = PacketConn::new(client);
                let answer = peer.read_packet().await.ok().map(|p| p.to_vec());
                (outcome, answer)
            }
        };
        let (outcome, answer) = login(account(true), false).await;
        assert!(
            matches!(
                outcome,
                Err(HandshakeError::AccessDenied {
                    without_tls: true,
                    ..
                })
            ),
            "{outcome:?}"
        );
        let err = packets::parse_err(&answer.expect("an answer")).expect("ERR");
        assert_eq!((err.code, &err.state), (1045, b"28000"));
        assert_eq!(
            err.message, "Access denied for user 'u'@'10.0.0.1' (using password: YES)",
            "MariaDB's answer to a plain login of an account REQUIRE SSL"
        );
        let (outcome, answer) = login(account(true), true).await;
        assert!(outcome.is_ok(), "over TLS: {outcome:?}");
        assert_eq!(answer, None, "the caller sends the OK");
        let (outcome, _) = login(account(false), false).await;
        assert!(
            outcome.is_ok(),
            "an account without the requirement: {outcome:?}"
        );
    }

    #[tokio::test]
    async fn a_pass_through_login_yields_what_answers_any_servers_salt() {
        use sha1::{Digest, Sha1};
        let scramble = *b"0123456789abcdefghij";
        // Two hosts of the account, with other passwords: either may match.
        let account = Account {
            passwords: vec![native_hash("other"), native_hash("pw"), String::new()],
            require_tls: false,
            pass_through: true,
        };
        let login = |response: Vec<u8>| {
            let account = account.clone();
            async move {
                let (server, _client) = tokio::io::duplex(4096);
                let mut conn = PacketConn::new(server);
                let accounts = move |_: &str| Some(account.clone());
                let plugin = Some(AuthPlugin::MysqlNativePassword);
                authenticate(
                    &mut conn, &scramble, "u", plugin, response, &accounts, false, "p",
                )
                .await
            }
        };
        let right = scramble_native(&scramble, b"pw").unwrap().to_vec();
        let through = login(right)
            .await
            .expect("the password of one of its hosts");
        let stage1: [u8; 20] = Sha1::digest(b"pw").into();
        assert_eq!(
            through,
            Some(PassThrough {
                user: "u".into(),
                native_stage1: Some(stage1)
            })
        );
        // What the proxy then answers a server's own salt with is the client's answer to it.
        let salt = *b"ZYXWVUTSRQPONMLKJIHG";
        assert_eq!(
            crate::client_handshake::native_from_stage1(&salt, &stage1),
            scramble_native(&salt, b"pw").unwrap()
        );
        // The host without a password: an empty answer, logged in with an empty password.
        let empty = login(Vec::new()).await.expect("the empty password");
        assert_eq!(empty.and_then(|p| p.native_stage1), None);
        let wrong = scramble_native(&scramble, b"pz").unwrap().to_vec();
        assert!(login(wrong).await.is_err());
    }

    #[tokio::test]
    async fn a_handshake_packet_is_refused_past_the_handshake_limit() {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            // A header declaring a 16 MiB handshake response, and a few bytes of it.
            s.write_all(&[0xFF, 0xFF, 0xFF, 1, 0, 0]).await.unwrap();
            s
        });
        let (stream, _) = listener.accept().await.unwrap();
        let mut conn = PacketConn::new(ClientStream::Plain(stream));
        conn.set_max_packet(1 << 30);
        let greeting = Greeting::new(1, "test");
        let no_accounts = |_: &str| None;
        let outcome = accept(&mut conn, &greeting, None, &no_accounts, "peer").await;
        assert!(
            matches!(
                outcome,
                Err(HandshakeError::Protocol(ProtocolError::TooLarge {
                    max: HANDSHAKE_MAX_PACKET,
                    ..
                }))
            ),
            "{outcome:?}"
        );
        assert_eq!(conn.max_packet(), 1 << 30, "the session's limit is back");
        drop(client.await.unwrap());
    }
}
