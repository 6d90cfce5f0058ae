//! The packet reader over any byte stream: packets are read until the stream ends or an
//! error, under a limit chosen by the input; a refused packet is drained and answered.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use shardgate_protocol::{PacketConn, ProtocolError};

thread_local! {
    static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
}

fuzz_target!(|data: &[u8]| {
    let Some((&limit, stream)) = data.split_first() else {
        return;
    };
    // Limits from 1 byte to 64 MiB, small ones most often.
    let max = 1usize << (limit % 27);
    RT.with(|rt| {
        rt.block_on(async {
            let io = tokio::io::join(stream, tokio::io::sink());
            let mut conn = PacketConn::new(io);
            conn.set_max_packet(max);
            for _ in 0..1000 {
                match conn.read_packet().await {
                    Ok(packet) => assert!(packet.len() <= max),
                    Err(ProtocolError::OutOfSync { .. }) => {
                        conn.set_seq(conn.seq().wrapping_add(1))
                    }
                    Err(ProtocolError::TooLarge { size, max: m }) => {
                        assert!(size > m);
                        conn.refuse_packet(b"\xff", Duration::from_secs(1)).await;
                        conn.reset_seq();
                    }
                    Err(_) => break,
                }
                // Nothing is held beyond what arrived (plus one read's headroom).
                assert!(conn.read_buffer().capacity() <= 2 * stream.len() + 64 * 1024);
            }
        })
    });
});
