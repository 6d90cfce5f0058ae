//! COM_STMT_EXECUTE bodies for statements of any number of parameters, with the types they
//! carry or ones remembered from an earlier execution (also fuzzed).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shardgate_protocol::stmt::ExecuteRequest;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let params = usize::from(data[0] % 17);
    let remembered_len = usize::from(data[1]).min(data.len() - 2);
    let (remembered, body) = data[2..].split_at(remembered_len);
    let Ok(request) = ExecuteRequest::parse(body, params) else {
        return;
    };
    let long_data = |i: usize| data[1] & (1 << (i % 8)) != 0 && data[0] & 0x80 != 0;
    for types in [request.types.unwrap_or(remembered), remembered] {
        for i in 0..params + 1 {
            let _ = request.param(types, i, long_data);
        }
        let again = request.encode_for(42, Some(types));
        let _ = ExecuteRequest::parse(&again, params);
    }
    let _ = request.encode_for(1, None);
});
