//! Column definitions (Protocol::ColumnDefinition41), and MariaDB's extended type
//! information inside them (MARIADB_CLIENT_EXTENDED_METADATA).

use crate::lenenc::{lenenc_str, lenenc_str_end, write_lenenc_str};
use crate::{ColumnFlags, ColumnType, UTF8MB4_GENERAL_CI};

/// The names of a column definition after its catalog (always `def`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ColumnNames<'a> {
    pub schema: &'a [u8],
    pub table: &'a [u8],
    pub org_table: &'a [u8],
    pub name: &'a [u8],
    pub org_name: &'a [u8],
}

/// The fixed-length fields of a column definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnAttributes {
    /// The collation id (63 = binary).
    pub charset: u16,
    /// The display length.
    pub length: u32,
    pub column_type: ColumnType,
    pub flags: ColumnFlags,
    pub decimals: u8,
}

/// Encodes a column definition. (mysql_common 0.38's `Column` serializer writes the length
/// before the charset, the reverse of the wire order, so it is not used.)
pub fn encode(names: &ColumnNames<'_>, attributes: &ColumnAttributes) -> Vec<u8> {
    let mut p =
        Vec::with_capacity(32 + names.schema.len() + names.table.len() * 2 + names.name.len() * 2);
    for s in [
        &b"def"[..],
        names.schema,
        names.table,
        names.org_table,
        names.name,
        names.org_name,
    ] {
        write_lenenc_str(&mut p, s);
    }
    p.push(0x0C);
    p.extend_from_slice(&attributes.charset.to_le_bytes());
    p.extend_from_slice(&attributes.length.to_le_bytes());
    p.push(attributes.column_type as u8);
    p.extend_from_slice(&attributes.flags.bits().to_le_bytes());
    p.push(attributes.decimals);
    p.extend_from_slice(&[0, 0]);
    p
}

/// A column definition the proxy describes itself (its own result sets: `SHOW SHARDGATE …`,
/// `SHOW PROCESSLIST`, diagnostics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    pub schema: String,
    pub table: String,
    pub org_table: String,
    pub name: String,
    pub org_name: String,
    pub charset: u16,
    pub length: u32,
    pub column_type: ColumnType,
    pub flags: ColumnFlags,
    pub decimals: u8,
}

impl ColumnDef {
    /// A computed VARCHAR column in utf8mb4, as the server describes `SELECT 'text'`.
    pub fn varchar(name: &str) -> Self {
        ColumnDef {
            schema: String::new(),
            table: String::new(),
            org_table: String::new(),
            name: name.to_owned(),
            org_name: String::new(),
            charset: u16::from(UTF8MB4_GENERAL_CI),
            length: 1024,
            column_type: ColumnType::MYSQL_TYPE_VAR_STRING,
            flags: ColumnFlags::empty(),
            decimals: 0x27,
        }
    }

    /// A computed BIGINT column.
    pub fn bigint(name: &str) -> Self {
        ColumnDef {
            charset: 63,
            length: 21,
            column_type: ColumnType::MYSQL_TYPE_LONGLONG,
            flags: ColumnFlags::BINARY_FLAG | ColumnFlags::NUM_FLAG,
            decimals: 0,
            ..ColumnDef::varchar(name)
        }
    }

    /// The definition as a client reads it: with MARIADB_CLIENT_EXTENDED_METADATA
    /// (`extended_metadata`), an empty one for the proxy's plain columns.
    pub fn encode_for(&self, extended_metadata: bool) -> Vec<u8> {
        match extended_metadata {
            true => with_extended_metadata(&self.encode(), b""),
            false => self.encode(),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        encode(
            &ColumnNames {
                schema: self.schema.as_bytes(),
                table: self.table.as_bytes(),
                org_table: self.org_table.as_bytes(),
                name: self.name.as_bytes(),
                org_name: self.org_name.as_bytes(),
            },
            &ColumnAttributes {
                charset: self.charset,
                length: self.length,
                column_type: self.column_type,
                flags: self.flags,
                decimals: self.decimals,
            },
        )
    }
}

/// The name a column definition gives its column (the fifth of its strings), with or without
/// MariaDB's extended metadata after them.
pub fn column_name(definition: &[u8]) -> Option<&[u8]> {
    let at = (0..4).try_fold(0, |at, _| lenenc_str_end(definition, at))?;
    lenenc_str(definition, at)
}

/// The table a column definition names (its third string: the alias the statement gives it).
pub fn table(definition: &[u8]) -> Option<&[u8]> {
    let at = (0..2).try_fold(0, |at, _| lenenc_str_end(definition, at))?;
    lenenc_str(definition, at)
}

/// A column definition's schema and org_table (its second and fourth strings): the database
/// and table its values come from.
pub fn origin(definition: &[u8]) -> Option<(&[u8], &[u8])> {
    let schema_at = lenenc_str_end(definition, 0)?;
    let org_table_at = lenenc_str_end(definition, lenenc_str_end(definition, schema_at)?)?;
    Some((
        lenenc_str(definition, schema_at)?,
        lenenc_str(definition, org_table_at)?,
    ))
}

/// `definition` with its schema and org_table replaced, every other byte kept (names,
/// extended metadata, fixed-length fields).
pub fn with_origin(definition: &[u8], schema: &[u8], org_table: &[u8]) -> Option<Vec<u8>> {
    let schema_at = lenenc_str_end(definition, 0)?;
    let table_at = lenenc_str_end(definition, schema_at)?;
    let org_table_at = lenenc_str_end(definition, table_at)?;
    let name_at = lenenc_str_end(definition, org_table_at)?;
    let mut out = Vec::with_capacity(definition.len() + schema.len() + org_table.len());
    out.extend_from_slice(&definition[..schema_at]);
    write_lenenc_str(&mut out, schema);
    out.extend_from_slice(&definition[table_at..org_table_at]);
    write_lenenc_str(&mut out, org_table);
    out.extend_from_slice(&definition[name_at..]);
    Some(out)
}

/// A column definition's flags (its fixed-length fields end it: `0x0c`, charset, length,
/// type, flags, decimals and two filler bytes); `None` for a payload too short to hold them.
pub fn flags(definition: &[u8]) -> Option<ColumnFlags> {
    let at = flags_at(definition)?;
    let bits = u16::from_le_bytes([definition[at], definition[at + 1]]);
    Some(ColumnFlags::from_bits_truncate(bits))
}

/// Sets a column definition's flags in place, every other byte kept (names, extended
/// metadata); `false` for a payload too short to hold them.
pub fn set_flags(definition: &mut [u8], flags: ColumnFlags) -> bool {
    let Some(at) = flags_at(definition) else {
        return false;
    };
    definition[at..at + 2].copy_from_slice(&flags.bits().to_le_bytes());
    true
}

/// Where the flags of a definition's fixed-length fields start: 5 bytes before its end,
/// after the `0x0c` that opens the 12 fixed bytes.
fn flags_at(definition: &[u8]) -> Option<usize> {
    let fixed = definition.len().checked_sub(13)?;
    (definition[fixed] == 0x0c).then_some(definition.len() - 5)
}

/// Where the six strings of a column definition (catalog, schema, table, org_table, name,
/// org_name) end: the extended metadata or the fixed-length fields start there.
fn column_names_end(definition: &[u8]) -> Option<usize> {
    (0..6).try_fold(0, |at, _| lenenc_str_end(definition, at))
}

/// Splits a column definition sent under MARIADB_CLIENT_EXTENDED_METADATA into the plain
/// protocol-4.1 definition and its extended type information (`\x00\x04uuid`, `\x01\x04json`,
/// empty for most columns), which the plain definition lacks.
pub fn split_extended_metadata(definition: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let names_end = column_names_end(definition)?;
    let metadata = lenenc_str(definition, names_end)?.to_vec();
    let metadata_end = lenenc_str_end(definition, names_end)?;
    let mut plain = Vec::with_capacity(definition.len() - (metadata_end - names_end));
    plain.extend_from_slice(&definition[..names_end]);
    plain.extend_from_slice(&definition[metadata_end..]);
    Some((plain, metadata))
}

/// A plain protocol-4.1 column definition with extended type information `metadata` added,
/// as a client that asked for MARIADB_CLIENT_EXTENDED_METADATA reads it.
pub fn with_extended_metadata(definition: &[u8], metadata: &[u8]) -> Vec<u8> {
    let names_end = column_names_end(definition).unwrap_or(definition.len());
    let mut out = Vec::with_capacity(definition.len() + 9 + metadata.len());
    out.extend_from_slice(&definition[..names_end]);
    write_lenenc_str(&mut out, metadata);
    out.extend_from_slice(&definition[names_end..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::io::ParseBuf;
    use mysql_common::packets::Column;

    #[test]
    fn flags_are_read_and_set_in_place() {
        let def = ColumnDef::bigint("n").encode();
        let before = flags(&def).unwrap();
        assert_eq!(before, ColumnFlags::BINARY_FLAG | ColumnFlags::NUM_FLAG);
        let mut changed = def.clone();
        assert!(set_flags(&mut changed, before | ColumnFlags::NOT_NULL_FLAG));
        let col: Column = ParseBuf(&changed).parse(()).unwrap();
        assert_eq!(col.flags(), before | ColumnFlags::NOT_NULL_FLAG);
        assert_eq!(col.name_ref(), b"n");
        assert_eq!(changed.len(), def.len());
        let with_metadata = with_extended_metadata(&def, b"\x00\x04uuid");
        assert_eq!(flags(&with_metadata), Some(before));
        assert_eq!(flags(b"short"), None);
        assert_eq!(table(&def), Some(&b""[..]));
    }

    #[test]
    fn column_definition_decodes_with_mysql_common() {
        let mut def = ColumnDef::varchar("email");
        def.schema = "app".into();
        def.table = "u".into();
        def.org_table = "users".into();
        def.org_name = "email".into();
        def.charset = 224;
        def.length = 1020;
        def.flags = ColumnFlags::UNIQUE_KEY_FLAG;
        def.decimals = 0;
        let bytes = def.encode();
        let col: Column = ParseBuf(&bytes).parse(()).unwrap();
        assert_eq!(col.name_str(), "email");
        assert_eq!(col.org_table_str(), "users");
        assert_eq!(col.schema_str(), "app");
        assert_eq!(col.character_set(), 224);
        assert_eq!(col.column_length(), 1020);
        assert_eq!(col.column_type(), ColumnType::MYSQL_TYPE_VAR_STRING);
        assert_eq!(col.flags(), ColumnFlags::UNIQUE_KEY_FLAG);
    }

    #[test]
    fn an_origin_is_read_and_replaced_keeping_the_rest() {
        let mut def = ColumnDef::bigint("n");
        def.schema = "app".into();
        def.table = "t".into();
        def.org_table = "shardgate_derived_0".into();
        def.org_name = "n".into();
        let extended = with_extended_metadata(&def.encode(), b"\x01\x04json");
        assert_eq!(
            origin(&extended),
            Some((&b"app"[..], &b"shardgate_derived_0"[..]))
        );
        let replaced = with_origin(&extended, b"", b"orders").unwrap();
        assert_eq!(origin(&replaced), Some((&b""[..], &b"orders"[..])));
        let (plain, metadata) = split_extended_metadata(&replaced).unwrap();
        assert_eq!(metadata, b"\x01\x04json");
        let col: Column = ParseBuf(&plain).parse(()).unwrap();
        assert_eq!(
            (
                col.table_str(),
                col.org_table_str(),
                col.name_str(),
                col.org_name_str()
            ),
            ("t".into(), "orders".into(), "n".into(), "n".into())
        );
        assert_eq!(col.column_type(), ColumnType::MYSQL_TYPE_LONGLONG);
        assert_eq!(with_origin(&[0xfc], b"", b""), None);
    }

    #[test]
    fn a_column_name_is_read_with_or_without_extended_metadata() {
        let def = ColumnDef::varchar("email").encode();
        assert_eq!(column_name(&def), Some(&b"email"[..]));
        let extended = with_extended_metadata(&def, b"\x01\x04json");
        assert_eq!(column_name(&extended), Some(&b"email"[..]));
        assert_eq!(column_name(&[0xfc]), None);
    }

    #[test]
    fn extended_metadata_comes_out_and_goes_back_in() {
        let plain = ColumnDef::varchar("u").encode();
        let extended = with_extended_metadata(&plain, b"\x00\x04uuid");
        assert_ne!(extended, plain);
        let (back, metadata) = split_extended_metadata(&extended).unwrap();
        assert_eq!(back, plain);
        assert_eq!(metadata, b"\x00\x04uuid");
        let (_, none) = split_extended_metadata(&with_extended_metadata(&plain, b"")).unwrap();
        assert!(none.is_empty());
        assert_eq!(split_extended_metadata(&plain[..5]), None);
    }
}
