//! MariaDB's extended column metadata (MARIADB_CLIENT_EXTENDED_METADATA) in answers the proxy
//! writes itself: the type name (`uuid`, `inet6`, `point`, …) or format (`json`) MariaDB adds to
//! each column definition for clients that ask. Backend connections of such a client have it
//! too (see `Flavor`), so forwarded answers carry it as sent; a merge takes it out of the
//! shards' definitions, works on plain ones, and puts it back for the client.

use bytes::BytesMut;
use shardgate_merge::Aggregate;
use shardgate_router::MergeSpec;
use shardgate_wire::column_definition::split_extended_metadata;

use crate::errors::ClientError;

/// The plain definitions of a shard's columns, and each column's extended metadata.
pub(crate) fn split(head: &[BytesMut]) -> Result<(Vec<BytesMut>, Vec<Vec<u8>>), ClientError> {
    head.iter()
        .map(|definition| {
            let (plain, metadata) = split_extended_metadata(definition).ok_or_else(|| {
                ClientError::new(
                    1105,
                    b"HY000",
                    "a shard sent a column definition without the extended metadata it was asked for",
                )
            })?;
            Ok((BytesMut::from(&plain[..]), metadata))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|columns| columns.into_iter().unzip())
}

/// The extended metadata of the merge's output columns, given the shards' columns': a
/// column passed through, or its MIN / MAX, keeps its type as MariaDB describes it; counts,
/// sums and averages are plain numbers.
pub(crate) fn of_outputs(merge: &MergeSpec, columns: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let Some(spec) = &merge.aggregate else {
        return columns.to_vec();
    };
    spec.outputs
        .iter()
        .map(|output| match output {
            Aggregate::First(c) | Aggregate::Min(c) | Aggregate::Max(c) => {
                columns.get(*c).cloned().unwrap_or_default()
            }
            _ => Vec::new(),
        })
        .collect()
}
