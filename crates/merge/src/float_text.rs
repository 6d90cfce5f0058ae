//! `DOUBLE` and `FLOAT` text exactly as MariaDB 10.11 sends it in the text protocol.
//!
//! A column with fixed decimals (`DOUBLE(10,2)`, `SUM`/`AVG` of one, `ROUND(x, 2)`) prints
//! exactly that many fractional digits, rounded from the binary value. Without
//! (`decimals` ≥ [`NOT_FIXED_DEC`]) a `DOUBLE` prints the shortest digits that read back to the
//! same value, and a `FLOAT` its value rounded to 6 significant digits; either way in plain
//! notation when the decimal exponent `e` satisfies `-15 <= e < 15`, or `e = 15` with a
//! digit after the point (`3333333333333333.5`), and as `d.ddde<e>` otherwise (`1e15`,
//! `1.2345678901234568e17`, `1e-16`, `0.000000000000001`, `100`,
//! `0.30000000000000004`, `123457000` for a FLOAT holding 123456789). Negative zero prints as
//! `0`, a negative number that rounds to zero as `-0.00`. Pinned against a real MariaDB in
//! `tests/mariadb.rs`.

/// `decimals` of a floating-point column without fixed decimals (`FLOATING_POINT_DECIMALS`).
pub const NOT_FIXED_DEC: u8 = 31;

/// The text of a `DOUBLE` with `decimals` fractional digits ([`NOT_FIXED_DEC`] or more: shortest).
pub fn format_double(v: f64, decimals: u8) -> String {
    if decimals < NOT_FIXED_DEC {
        return fixed(v, decimals);
    }
    if v == 0.0 {
        return "0".to_owned();
    }
    // Rust gives the shortest digits that read back; on an exact tie between two such
    // strings it rounds half up where MariaDB's dtoa rounds half to even
    // (-203320980773417.125 prints as ...417.12). Re-rounding the exact value to the same
    // number of digits, which Rust does half to even, settles ties MariaDB's way.
    let a = v.abs();
    let short = format!("{a:e}");
    let n = short
        .split('e')
        .next()
        .unwrap_or("")
        .bytes()
        .filter(u8::is_ascii_digit)
        .count();
    let sci = if n > 1 {
        format!("{a:.*e}", n - 1)
    } else {
        short
    };
    layout(v < 0.0, &trim_mantissa(&sci))
}

/// Drops trailing zeros of the mantissa: "1.50000e3" → "1.5e3".
fn trim_mantissa(sci: &str) -> String {
    let (mant, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let mant = if mant.contains('.') {
        mant.trim_end_matches('0').trim_end_matches('.')
    } else {
        mant
    };
    format!("{mant}e{exp}")
}

/// The text of a `FLOAT` with `decimals` fractional digits ([`NOT_FIXED_DEC`] or more: 6
/// significant digits).
pub fn format_float(v: f32, decimals: u8) -> String {
    if decimals < NOT_FIXED_DEC {
        return fixed(f64::from(v), decimals);
    }
    if v == 0.0 {
        return "0".to_owned();
    }
    let sci = format!("{:.5e}", f64::from(v).abs());
    layout(v < 0.0, &trim_mantissa(&sci))
}

fn fixed(v: f64, decimals: u8) -> String {
    // Negative zero loses its sign; a negative number that rounds to zero keeps it
    // (MariaDB prints an AVG of -3.3e-7 with 6 decimals as "-0.000000").
    let v = if v == 0.0 { 0.0 } else { v };
    format!("{:.*}", usize::from(decimals), v)
}

/// Lays out `d[.ddd]e<exp>` (non-negative mantissa) the way MariaDB does.
fn layout(negative: bool, sci: &str) -> String {
    let (mant, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::with_capacity(digits.len() + 24);
    if negative {
        out.push('-');
    }
    // MariaDB's my_gcvt (dtoa mode 4, a wide field): plain notation unless the exponent is
    // below -15, or above 14 with no digit after the decimal point.
    let plain = exp >= -15 && (exp < 15 || digits.len() as i32 > exp + 1);
    if !plain {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push_str(&exp.to_string());
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', int_len - digits.len()));
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
        out.push_str(&digits);
    }
    out
}

/// Parses the text of a `DOUBLE`/`FLOAT` cell; `None` unless it is a finite number.
pub fn parse_double(text: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(text).ok()?;
    // Rust also accepts "inf", "NaN" and "infinity"; MariaDB never sends them.
    if !s
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
    {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: u8 = NOT_FIXED_DEC;

    #[test]
    fn shortest_doubles_as_mariadb_prints_them() {
        let cases: &[(f64, &str)] = &[
            (1e20, "1e20"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1.0 / 3.0, "0.3333333333333333"),
            (1e15, "1e15"),
            (999999999999999.0, "999999999999999"),
            (1.2345678901234568e17, "1.2345678901234568e17"),
            (3333333333333333.5, "3333333333333333.5"),
            (-(203320980773417.0 + 0.125), "-203320980773417.12"),
            (1234567890123456.8, "1234567890123456.8"),
            (1234567890123456.0, "1.234567890123456e15"),
            (1e-5, "0.00001"),
            (1.5e-7, "0.00000015"),
            (1e-15, "0.000000000000001"),
            (1e-16, "1e-16"),
            (1.5e-16, "1.5e-16"),
            (1.2345678901234567e-14, "0.000000000000012345678901234567"),
            (123456789e7, "1.23456789e15"),
            (123000000000000.0, "123000000000000"),
            (100.0, "100"),
            (12345.678, "12345.678"),
            (-1e20, "-1e20"),
            (-0.5, "-0.5"),
            (0.0, "0"),
            (-0.0, "0"),
            (1.7976931348623157e308, "1.7976931348623157e308"),
            (5e-324, "5e-324"),
            (3.4e38, "3.4e38"),
        ];
        for &(v, want) in cases {
            assert_eq!(format_double(v, N), want, "{v:e}");
        }
    }

    #[test]
    fn fixed_decimals() {
        assert_eq!(format_double(18.35, 2), "18.35");
        assert_eq!(format_double(3.0583333333, 6), "3.058333");
        assert_eq!(format_double(1.35, 7), "1.3500000");
        assert_eq!(format_double(-0.0, 2), "0.00");
        assert_eq!(format_double(-0.001, 2), "-0.00");
        assert_eq!(format_double(-3.3e-7, 6), "-0.000000");
        assert_eq!(format_double(5.551115123125783e-17, 2), "0.00");
        assert_eq!(format_double(-0.0033333, 6), "-0.003333");
        assert_eq!(format_double(0.125, 2), "0.12");
        assert_eq!(format_double(1e20, 2), "100000000000000000000.00");
    }

    #[test]
    fn floats_print_six_significant_digits() {
        let cases: &[(f32, &str)] = &[
            (123456789.0, "123457000"),
            (1234567.0, "1234570"),
            (0.000012345, "0.000012345"),
            (3.4e38, "3.4e38"),
            (1e-15, "0.000000000000001"),
            (1e-16, "1e-16"),
            (1.5e14, "150000000000000"),
            (1.5e15, "1.5e15"),
            (-7.25, "-7.25"),
            (16777217.0, "16777200"),
            (0.1, "0.1"),
            (1234565.0, "1234560"),
            (1234575.0, "1234580"),
        ];
        for &(v, want) in cases {
            assert_eq!(format_float(v, N), want, "{v:e}");
        }
        assert_eq!(format_float(1.5, 3), "1.500");
    }

    #[test]
    fn parses_only_finite_numbers() {
        assert_eq!(parse_double(b"1e20"), Some(1e20));
        assert_eq!(parse_double(b"-1.5e-16"), Some(-1.5e-16));
        for bad in ["inf", "NaN", "infinity", "1e400", "", "1x", "--1"] {
            assert_eq!(parse_double(bad.as_bytes()), None, "{bad}");
        }
    }
}
