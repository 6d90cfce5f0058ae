//! Exact decimal numbers (MariaDB `DECIMAL`, up to 65 digits): a scaled integer.
//!
//! A [`Decimal`] is `mantissa / 10^scale`. The mantissa lives in an `i128` while it fits
//! (38 digits) and in a `BigInt` beyond, so the common case allocates nothing. Arithmetic is
//! exact; the only rounding is explicit ([`Decimal::rescale`], [`Decimal::div_round`]) and
//! rounds half away from zero, as MariaDB's `decimal_round(HALF_UP)` does.

use std::cmp::Ordering;
use std::fmt;

use num_bigint::{BigInt, Sign};
use num_integer::Integer;
use num_traits::{Signed, ToPrimitive, Zero};

/// Largest scale MariaDB gives a `DECIMAL` (`DECIMAL_MAX_SCALE`).
pub const MAX_SCALE: u32 = 38;
/// Largest precision of a MariaDB `DECIMAL` (`DECIMAL_MAX_PRECISION`).
pub const MAX_PRECISION: u32 = 65;

/// An exact decimal number: `mantissa / 10^scale`.
#[derive(Clone)]
pub struct Decimal {
    mantissa: Mantissa,
    scale: u32,
}

#[derive(Clone, Debug)]
enum Mantissa {
    Small(i128),
    Big(BigInt),
}

const POW10: [i128; 39] = {
    let mut t = [1i128; 39];
    let mut i = 1;
    while i < 39 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

fn pow10_big(k: u32) -> BigInt {
    num_traits::pow(BigInt::from(10u8), k as usize)
}

impl Mantissa {
    fn from_big(b: BigInt) -> Mantissa {
        match b.to_i128() {
            Some(v) => Mantissa::Small(v),
            None => Mantissa::Big(b),
        }
    }

    fn to_big(&self) -> BigInt {
        match self {
            Mantissa::Small(v) => BigInt::from(*v),
            Mantissa::Big(b) => b.clone(),
        }
    }

    fn signum(&self) -> i32 {
        match self {
            Mantissa::Small(v) => v.signum() as i32,
            Mantissa::Big(b) => match b.sign() {
                Sign::Minus => -1,
                Sign::NoSign => 0,
                Sign::Plus => 1,
            },
        }
    }

    fn mul_pow10(&self, k: u32) -> Mantissa {
        if k == 0 {
            return self.clone();
        }
        if let Mantissa::Small(v) = self {
            if k < 39 {
                if let Some(r) = v.checked_mul(POW10[k as usize]) {
                    return Mantissa::Small(r);
                }
            }
        }
        Mantissa::Big(self.to_big() * pow10_big(k))
    }

    fn add(&self, other: &Mantissa) -> Mantissa {
        if let (Mantissa::Small(a), Mantissa::Small(b)) = (self, other) {
            if let Some(r) = a.checked_add(*b) {
                return Mantissa::Small(r);
            }
        }
        Mantissa::from_big(self.to_big() + other.to_big())
    }

    fn mul(&self, other: &Mantissa) -> Mantissa {
        if let (Mantissa::Small(a), Mantissa::Small(b)) = (self, other) {
            if let Some(r) = a.checked_mul(*b) {
                return Mantissa::Small(r);
            }
        }
        Mantissa::from_big(self.to_big() * other.to_big())
    }

    fn neg(&self) -> Mantissa {
        match self {
            Mantissa::Small(v) => match v.checked_neg() {
                Some(r) => Mantissa::Small(r),
                None => Mantissa::Big(-BigInt::from(*v)),
            },
            Mantissa::Big(b) => Mantissa::from_big(-b),
        }
    }

    fn cmp(&self, other: &Mantissa) -> Ordering {
        match (self, other) {
            (Mantissa::Small(a), Mantissa::Small(b)) => a.cmp(b),
            _ => self.to_big().cmp(&other.to_big()),
        }
    }

    /// `self / d` rounded half away from zero; `d` is not zero.
    fn div_round(&self, d: &Mantissa) -> Mantissa {
        if let (Mantissa::Small(n), Mantissa::Small(d)) = (self, d) {
            if *n != i128::MIN && *d != i128::MIN {
                let (q, r) = (n / d, n % d);
                // |r| < |d|, so 2|r| fits when |d| < 2^126; otherwise fall through.
                if let Some(twice) = r.unsigned_abs().checked_mul(2) {
                    if twice >= d.unsigned_abs() {
                        let away = if (*n < 0) != (*d < 0) { -1 } else { 1 };
                        return Mantissa::Small(q + away);
                    }
                    return Mantissa::Small(q);
                }
            }
        }
        let (n, d) = (self.to_big(), d.to_big());
        let (q, r) = n.div_rem(&d);
        if (r.abs() * 2u8) >= d.abs() {
            let away = if n.is_negative() != d.is_negative() {
                -1
            } else {
                1
            };
            Mantissa::from_big(q + away)
        } else {
            Mantissa::from_big(q)
        }
    }

    /// `self / d` truncated toward zero; `d` is not zero.
    fn div_trunc(&self, d: &Mantissa) -> Mantissa {
        if let (Mantissa::Small(n), Mantissa::Small(d)) = (self, d) {
            if let Some(q) = n.checked_div(*d) {
                return Mantissa::Small(q);
            }
        }
        Mantissa::from_big(self.to_big() / d.to_big())
    }

    /// Divides by 10 while the last digit is 0, at most `max` times; returns how many times.
    fn strip_zeros(&mut self, max: u32) -> u32 {
        let mut n = 0;
        while n < max {
            match self {
                Mantissa::Small(v) => {
                    if *v == 0 || *v % 10 != 0 {
                        break;
                    }
                    *v /= 10;
                }
                Mantissa::Big(b) => {
                    let (q, r) = b.div_rem(&BigInt::from(10u8));
                    if !r.is_zero() || b.is_zero() {
                        break;
                    }
                    *self = Mantissa::from_big(q);
                }
            }
            n += 1;
        }
        n
    }

    fn digits(&self) -> String {
        match self {
            Mantissa::Small(v) => v.unsigned_abs().to_string(),
            Mantissa::Big(b) => b.magnitude().to_string(),
        }
    }
}

impl Decimal {
    /// `mantissa / 10^scale`.
    pub fn new(mantissa: i128, scale: u32) -> Decimal {
        Decimal {
            mantissa: Mantissa::Small(mantissa),
            scale,
        }
    }

    /// `mantissa / 10^scale` with a mantissa of any size.
    pub fn from_bigint(mantissa: BigInt, scale: u32) -> Decimal {
        Decimal {
            mantissa: Mantissa::from_big(mantissa),
            scale,
        }
    }

    /// Zero with `scale` fractional digits.
    pub fn zero(scale: u32) -> Decimal {
        Decimal::new(0, scale)
    }

    /// Parses MariaDB's text form of a `DECIMAL`: `[-+]digits[.digits]` (either side may be
    /// empty, not both). The scale is the number of fractional digits written.
    pub fn parse(text: &[u8]) -> Option<Decimal> {
        let (neg, body) = match text.first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (int, frac) = match body.iter().position(|&b| b == b'.') {
            Some(p) => (&body[..p], &body[p + 1..]),
            None => (body, &body[..0]),
        };
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        if !int.iter().chain(frac).all(u8::is_ascii_digit) {
            return None;
        }
        let scale = u32::try_from(frac.len()).ok()?;
        let significant = int.iter().skip_while(|&&b| b == b'0').count() + frac.len();
        let mantissa = if significant <= 38 {
            let mut v: i128 = 0;
            for &b in int.iter().chain(frac) {
                v = v * 10 + i128::from(b - b'0');
            }
            Mantissa::Small(if neg { -v } else { v })
        } else {
            let mut digits: Vec<u8> = Vec::with_capacity(int.len() + frac.len());
            digits.extend(int.iter().chain(frac).map(|b| b - b'0'));
            let b = BigInt::from_radix_be(if neg { Sign::Minus } else { Sign::Plus }, &digits, 10)?;
            Mantissa::from_big(b)
        };
        Some(Decimal { mantissa, scale })
    }

    /// Number of fractional digits.
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// `true` for zero (at any scale).
    pub fn is_zero(&self) -> bool {
        self.mantissa.signum() == 0
    }

    /// `true` below zero.
    pub fn is_negative(&self) -> bool {
        self.mantissa.signum() < 0
    }

    /// The same number with `scale` fractional digits, rounded half away from zero when
    /// digits are dropped.
    pub fn rescale(&self, scale: u32) -> Decimal {
        match scale.cmp(&self.scale) {
            Ordering::Equal => self.clone(),
            Ordering::Greater => Decimal {
                mantissa: self.mantissa.mul_pow10(scale - self.scale),
                scale,
            },
            Ordering::Less => {
                let d = Mantissa::Small(1).mul_pow10(self.scale - scale);
                Decimal {
                    mantissa: self.mantissa.div_round(&d),
                    scale,
                }
            }
        }
    }

    /// The same number without trailing fractional zeros (`1.500` → `1.5`, `2.00` → `2`).
    pub fn normalized(&self) -> Decimal {
        let mut m = self.mantissa.clone();
        let stripped = m.strip_zeros(self.scale);
        let scale = if m.signum() == 0 {
            0
        } else {
            self.scale - stripped
        };
        Decimal { mantissa: m, scale }
    }

    /// Exact sum; the scale is the larger of the two.
    pub fn add(&self, other: &Decimal) -> Decimal {
        let scale = self.scale.max(other.scale);
        let a = self.mantissa.mul_pow10(scale - self.scale);
        let b = other.mantissa.mul_pow10(scale - other.scale);
        Decimal {
            mantissa: a.add(&b),
            scale,
        }
    }

    /// Exact difference; the scale is the larger of the two.
    pub fn sub(&self, other: &Decimal) -> Decimal {
        self.add(&other.neg())
    }

    /// Exact product; the scale is the sum of the two.
    pub fn mul(&self, other: &Decimal) -> Decimal {
        Decimal {
            mantissa: self.mantissa.mul(&other.mantissa),
            scale: self.scale + other.scale,
        }
    }

    /// The negation.
    pub fn neg(&self) -> Decimal {
        Decimal {
            mantissa: self.mantissa.neg(),
            scale: self.scale,
        }
    }

    /// `self / divisor` with `scale` fractional digits, rounded half away from zero; `None`
    /// when `divisor` is zero.
    pub fn div_round(&self, divisor: &Decimal, scale: u32) -> Option<Decimal> {
        if divisor.is_zero() {
            return None;
        }
        // self/divisor * 10^scale = m1 * 10^(scale + s2) / (m2 * 10^s1)
        let (num_shift, den_shift) = {
            let up = scale + divisor.scale;
            if up >= self.scale {
                (up - self.scale, 0)
            } else {
                (0, self.scale - up)
            }
        };
        let n = self.mantissa.mul_pow10(num_shift);
        let d = divisor.mantissa.mul_pow10(den_shift);
        Some(Decimal {
            mantissa: n.div_round(&d),
            scale,
        })
    }

    /// `self / divisor` with `scale` fractional digits, the rest dropped (MariaDB's long
    /// division stops there); `None` when `divisor` is zero.
    pub fn div_truncate(&self, divisor: &Decimal, scale: u32) -> Option<Decimal> {
        if divisor.is_zero() {
            return None;
        }
        let up = scale + divisor.scale;
        let (n, d) = if up >= self.scale {
            (
                self.mantissa.mul_pow10(up - self.scale),
                divisor.mantissa.clone(),
            )
        } else {
            (
                self.mantissa.clone(),
                divisor.mantissa.mul_pow10(self.scale - up),
            )
        };
        Some(Decimal {
            mantissa: n.div_trunc(&d),
            scale,
        })
    }

    /// The same number with at most `scale` fractional digits, the rest dropped.
    pub fn truncate(&self, scale: u32) -> Decimal {
        if scale >= self.scale {
            return self.clone();
        }
        let d = Mantissa::Small(1).mul_pow10(self.scale - scale);
        Decimal {
            mantissa: self.mantissa.div_trunc(&d),
            scale,
        }
    }

    /// Digits before the point (0 for `0.5`).
    pub fn integer_digits(&self) -> u32 {
        let digits = self.mantissa.digits().trim_start_matches('0').len() as u32;
        digits.saturating_sub(self.scale)
    }

    /// The integer value when the number has no fractional part (at any scale).
    pub fn to_i128(&self) -> Option<i128> {
        let n = self.normalized();
        if n.scale != 0 {
            return None;
        }
        match n.mantissa {
            Mantissa::Small(v) => Some(v),
            Mantissa::Big(_) => None,
        }
    }

    /// The nearest `f64` (correctly rounded).
    pub fn to_f64(&self) -> f64 {
        // Rust's float parser rounds correctly; a decimal's text is always parseable.
        self.to_string().parse().unwrap_or(0.0)
    }

    /// The exact value of a finite `f64` (`0.1` → `0.1000000000000000055511151231257827…`).
    pub fn from_f64_exact(v: f64) -> Decimal {
        if v == 0.0 || !v.is_finite() {
            return Decimal::zero(0);
        }
        let bits = v.to_bits();
        let neg = bits >> 63 == 1;
        let exp = ((bits >> 52) & 0x7ff) as i32;
        let frac = bits & ((1u64 << 52) - 1);
        let (m, e) = if exp == 0 {
            (frac, -1074)
        } else {
            (frac | (1u64 << 52), exp - 1075)
        };
        let mut big = BigInt::from(m);
        if neg {
            big = -big;
        }
        let d = if e >= 0 {
            Decimal::from_bigint(big << (e as usize), 0)
        } else {
            let k = (-e) as u32;
            let five = num_traits::pow(BigInt::from(5u8), k as usize);
            Decimal::from_bigint(big * five, k)
        };
        d.normalized()
    }

    /// The `f64` equal to this number, if one is exactly equal.
    pub fn to_f64_exact(&self) -> Option<f64> {
        let n = self.normalized();
        if n.scale > 0 {
            // m / 10^s with m not a multiple of 10 is a binary fraction only if 5^s divides m.
            let five = match &n.mantissa {
                Mantissa::Small(v) => *v % 5 == 0,
                Mantissa::Big(b) => (b % BigInt::from(5u8)).is_zero(),
            };
            if !five || n.scale > 1100 {
                return None;
            }
        }
        let f = n.to_f64();
        if f.is_finite() && Decimal::from_f64_exact(f) == n {
            Some(f)
        } else {
            None
        }
    }

    /// Number of significant integer digits plus the scale (MariaDB's precision of this value).
    pub fn precision(&self) -> u32 {
        let digits = self.mantissa.digits().len() as u32;
        digits.max(self.scale + 1)
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Decimal) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Decimal {}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Decimal) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    /// Numeric order: `1.0 == 1.00`.
    fn cmp(&self, other: &Decimal) -> Ordering {
        let (sa, sb) = (self.mantissa.signum(), other.mantissa.signum());
        if sa != sb {
            return sa.cmp(&sb);
        }
        let scale = self.scale.max(other.scale);
        let a = self.mantissa.mul_pow10(scale - self.scale);
        let b = other.mantissa.mul_pow10(scale - other.scale);
        a.cmp(&b)
    }
}

impl From<i64> for Decimal {
    fn from(v: i64) -> Decimal {
        Decimal::new(i128::from(v), 0)
    }
}

impl From<u64> for Decimal {
    fn from(v: u64) -> Decimal {
        Decimal::new(i128::from(v), 0)
    }
}

impl From<i128> for Decimal {
    fn from(v: i128) -> Decimal {
        Decimal::new(v, 0)
    }
}

impl fmt::Display for Decimal {
    /// MariaDB's text form: exactly `scale` fractional digits, `0.` before a pure fraction.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.mantissa.digits();
        let scale = self.scale as usize;
        let mut s = String::with_capacity(digits.len() + 3);
        if self.mantissa.signum() < 0 {
            s.push('-');
        }
        if digits.len() <= scale {
            s.push_str("0.");
            s.extend(std::iter::repeat_n('0', scale - digits.len()));
            s.push_str(&digits);
        } else {
            let (int, frac) = digits.split_at(digits.len() - scale);
            s.push_str(int);
            if scale > 0 {
                s.push('.');
                s.push_str(frac);
            }
        }
        f.write_str(&s)
    }
}

impl fmt::Debug for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Decimal({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn parses_and_prints_mariadb_text() {
        for s in [
            "0",
            "-0.749",
            "3",
            "1.2500",
            "0.000",
            "123456789012345678901234567890.123456789",
        ] {
            assert_eq!(d(s).to_string(), s);
        }
        assert_eq!(d("-0.000").to_string(), "0.000");
        assert_eq!(d(".5").to_string(), "0.5");
        assert_eq!(d("007").to_string(), "7");
        for bad in ["", "-", ".", "1e5", "1.2.3", "abc", " 1"] {
            assert!(Decimal::parse(bad.as_bytes()).is_none(), "{bad}");
        }
    }

    #[test]
    fn sixty_five_digits_are_exact() {
        let max = "9".repeat(65);
        let x = d(&max);
        assert_eq!(x.to_string(), max);
        let sum = x.add(&x);
        assert_eq!(sum.to_string(), format!("1{}8", "9".repeat(64)));
        let frac = format!("{}.{}", "9".repeat(35), "9".repeat(30));
        assert_eq!(
            d(&frac)
                .add(&d("0.000000000000000000000000000001"))
                .to_string(),
            format!("1{}.{}", "0".repeat(35), "0".repeat(30))
        );
    }

    #[test]
    fn compares_numerically_across_scales() {
        assert_eq!(d("1.0"), d("1.00"));
        assert!(d("-1.5") < d("-1.49"));
        assert!(d("0.1") > d("0.09999"));
        assert!(d(&"9".repeat(60)) > d("1"));
        assert!(d(&format!("-{}", "9".repeat(60))) < d("-1"));
    }

    #[test]
    fn rounds_half_away_from_zero() {
        assert_eq!(d("0.00005").rescale(4).to_string(), "0.0001");
        assert_eq!(d("-0.00005").rescale(4).to_string(), "-0.0001");
        assert_eq!(d("0.00004").rescale(4).to_string(), "0.0000");
        assert_eq!(d("2").div_round(&d("3"), 4).unwrap().to_string(), "0.6667");
        assert_eq!(
            d("-2").div_round(&d("3"), 4).unwrap().to_string(),
            "-0.6667"
        );
        assert_eq!(
            d("1.0").div_round(&d("3"), 5).unwrap().to_string(),
            "0.33333"
        );
        assert_eq!(
            d("-0.749").div_round(&d("6"), 7).unwrap().to_string(),
            "-0.1248333"
        );
        assert_eq!(
            d("1").div_round(&d("20000"), 4).unwrap().to_string(),
            "0.0001"
        );
        assert!(d("1").div_round(&d("0.00"), 4).is_none());
        let big = d(&"7".repeat(65));
        assert_eq!(
            big.div_round(&d("7"), 4).unwrap().to_string(),
            format!("{}.0000", "1".repeat(65))
        );
    }

    #[test]
    fn exact_doubles() {
        assert_eq!(Decimal::from_f64_exact(0.5).to_string(), "0.5");
        assert_eq!(Decimal::from_f64_exact(-3.0).to_string(), "-3");
        assert_eq!(
            Decimal::from_f64_exact(0.1).to_string(),
            "0.1000000000000000055511151231257827021181583404541015625"
        );
        assert_eq!(d("1.25").to_f64_exact(), Some(1.25));
        assert_eq!(d("0.1").to_f64_exact(), None);
        assert_eq!(d("100").to_f64_exact(), Some(100.0));
        assert_eq!(d("9007199254740993").to_f64_exact(), None);
    }
}
