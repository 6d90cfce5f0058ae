//! The server side of the connection phase: greeting, HandshakeResponse, password check, auth switch.

use mysql_common::auth::plugins::caching_sha2_password::scramble_sha256;
use mysql_common::auth::plugins::mysql_native_password::scramble_native;
use mysql_common::io::ParseBuf;
use mysql_common::packets::{AuthPlugin, AuthSwitchRequest, HandshakePacket, HandshakeResponse};
use mysql_common::proto::MySerialize;
use rand::Rng;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::{
    packets, CapabilityFlags, PacketConn, ProtocolError, StatusFlags, COMMON_CAPABILITIES,
    UTF8MB4_GENERAL_CI,
};

/// Capabilities the proxy offers to clients.
pub const SERVER_CAPABILITIES: CapabilityFlags = CapabilityFlags::from_bits_truncate(
    COMMON_CAPABILITIES.bits()
        | CapabilityFlags::CLIENT_FOUND_ROWS.bits()
        | CapabilityFlags::CLIENT_CONNECT_WITH_DB.bits()
        | CapabilityFlags::CLIENT_INTERACTIVE.bits()
        | CapabilityFlags::CLIENT_CONNECT_ATTRS.bits()
        | CapabilityFlags::CLIENT_DEPRECATE_EOF.bits(),
);

const NATIVE: &[u8] = b"mysql_native_password";
/// caching_sha2_password's "fast authentication succeeded" marker.
const FAST_AUTH_SUCCESS: u8 = 0x03;

/// The greeting the proxy sends, and the salt the client must scramble its password with.
#[derive(Debug, Clone)]
pub struct Greeting {
    pub connection_id: u32,
    pub server_version: String,
    pub scramble: [u8; 20],
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
        }
    }

    fn encode(&self) -> Vec<u8> {
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
            SERVER_CAPABILITIES,
            UTF8MB4_GENERAL_CI,
            StatusFlags::SERVER_STATUS_AUTOCOMMIT,
            Some(NATIVE),
        );
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
    pub collation: u8,
}

#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The client was told (ERR 1045) and the connection should be closed.
    #[error("access denied for user '{0}'")]
    AccessDenied(String),
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
/// e.g. for an unknown database). Wrong credentials get ERR 1045 (28000) here.
pub async fn accept<S>(
    conn: &mut PacketConn<S>,
    greeting: &Greeting,
    password_of: impl Fn(&str) -> Option<String>,
    peer: &str,
) -> Result<Login, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    conn.reset_seq();
    conn.write_packet(&greeting.encode()).await?;
    let payload = conn.read_packet().await?;
    if payload.len() < 32 {
        let reason = if payload.len() >= 4 && payload[1] & 0x08 != 0 {
            "TLS is not enabled on this shardgate listener"
        } else {
            "malformed handshake response"
        };
        refuse(conn, 1043, b"08S01", reason).await?;
        return Err(HandshakeError::Refused(reason.into()));
    }
    let response: HandshakeResponse<'_> = ParseBuf(&payload)
        .parse(())
        .map_err(|e| ProtocolError::malformed(format!("handshake response: {e}")))?;
    let client_caps = response.capabilities();
    if !client_caps.contains(CapabilityFlags::CLIENT_PROTOCOL_41) {
        let reason = "shardgate requires a client speaking protocol 4.1 (CLIENT_PROTOCOL_41)";
        refuse(conn, 1043, b"08S01", reason).await?;
        return Err(HandshakeError::Refused(reason.into()));
    }
    let user = String::from_utf8_lossy(response.user()).into_owned();
    let database = response
        .db_name()
        .filter(|d| !d.is_empty())
        .map(|d| String::from_utf8_lossy(d).into_owned());
    let login = Login {
        user: user.clone(),
        database,
        capabilities: client_caps & SERVER_CAPABILITIES,
        collation: response.collation(),
    };
    let plugin = response.auth_plugin().cloned();
    let mut auth_data = response.scramble_buf().to_vec();
    let password = password_of(&user);

    let ok = match (&password, plugin) {
        (None, _) => false,
        (Some(pw), Some(AuthPlugin::CachingSha2Password)) => {
            let ok = verify_sha2(&greeting.scramble, pw, &auth_data);
            if ok {
                conn.write_packet(&[0x01, FAST_AUTH_SUCCESS]).await?;
            }
            ok
        }
        (Some(pw), Some(AuthPlugin::MysqlNativePassword) | None) => {
            verify_native(&greeting.scramble, pw, &auth_data)
        }
        (Some(pw), Some(_other)) => {
            // Ask the client to scramble with mysql_native_password instead.
            let mut salt = greeting.scramble.to_vec();
            salt.push(0);
            let mut buf = Vec::new();
            AuthSwitchRequest::new(NATIVE, salt).serialize(&mut buf);
            conn.write_packet(&buf).await?;
            auth_data = conn.read_packet().await?.to_vec();
            verify_native(&greeting.scramble, pw, &auth_data)
        }
    };
    if !ok {
        let using = if auth_data.is_empty() { "NO" } else { "YES" };
        let host = peer.rsplit_once(':').map_or(peer, |(h, _)| h);
        let msg = format!("Access denied for user '{user}'@'{host}' (using password: {using})");
        conn.write_packet(&packets::err(1045, b"28000", &msg))
            .await?;
        return Err(HandshakeError::AccessDenied(user));
    }
    Ok(login)
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
