//! The MySQL wire protocol as shardgate speaks it, built on `mysql_common`: packet framing,
//! the server-side handshake toward clients, the client-side handshake toward backends,
//! and the response scanner that forwards results without decoding rows. The packets'
//! bytes themselves are `shardgate-wire`'s.

pub mod client_handshake;
pub mod conn;
pub mod deadline;
pub mod error;
pub mod forward;
pub mod insert_id;
pub mod interpolate;
pub mod local_infile;
pub mod response;
pub mod server_handshake;
pub mod stmt;
pub mod tls;

pub use conn::PacketConn;
pub use error::{ProtocolError, ServerErr};
pub use mysql_common::constants::{
    CapabilityFlags, ColumnFlags, ColumnType, Command, MariadbCapabilities, StatusFlags,
};

/// Largest logical packet accepted from a peer; guards memory against malformed lengths.
pub const MAX_PACKET_SIZE: usize = 64 * 1024 * 1024;

/// Size of one physical packet's payload at most; longer payloads continue in the next one.
pub const MAX_CHUNK: usize = 0xFF_FFFF;

/// Capabilities shardgate speaks on both sides: toward clients and toward backends.
pub const COMMON_CAPABILITIES: CapabilityFlags = CapabilityFlags::from_bits_truncate(
    CapabilityFlags::CLIENT_LONG_PASSWORD.bits()
        | CapabilityFlags::CLIENT_LONG_FLAG.bits()
        | CapabilityFlags::CLIENT_PROTOCOL_41.bits()
        | CapabilityFlags::CLIENT_TRANSACTIONS.bits()
        | CapabilityFlags::CLIENT_SECURE_CONNECTION.bits()
        | CapabilityFlags::CLIENT_MULTI_STATEMENTS.bits()
        | CapabilityFlags::CLIENT_MULTI_RESULTS.bits()
        | CapabilityFlags::CLIENT_PS_MULTI_RESULTS.bits()
        | CapabilityFlags::CLIENT_PLUGIN_AUTH.bits()
        | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA.bits(),
);

pub use shardgate_wire::UTF8MB4_GENERAL_CI;
