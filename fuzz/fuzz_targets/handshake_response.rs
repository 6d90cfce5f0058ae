//! What a client sends in the connection phase: a HandshakeResponse41 (after any SSLRequest)
//! and, later, COM_CHANGE_USER.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shardgate_protocol::server_handshake::{ChangeUser, ClientHello, Secret};
use shardgate_protocol::CapabilityFlags;

fuzz_target!(|data: &[u8]| {
    let Some((&which, payload)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            if let Ok(hello) = ClientHello::parse(payload) {
                let _ = Secret::from_config(&hello.login.user)
                    .verify_native(&[7u8; 20], &hello.auth_data);
            }
        }
        1 => {
            let caps = CapabilityFlags::from_bits_truncate(u32::from(which) << 8 | 0x8200);
            let _ = ChangeUser::parse(payload, caps);
        }
        _ => {
            let text = String::from_utf8_lossy(payload);
            let secret = Secret::from_config(&text);
            let _ = secret.verify_native(&[1u8; 20], payload);
        }
    }
});
