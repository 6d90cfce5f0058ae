//! `VARIANCE` / `VAR_POP` / `VAR_SAMP` and `STD` / `STDDEV` / `STDDEV_POP` / `STDDEV_SAMP` over
//! exact inputs (integers, `DECIMAL`): from the raw values of every shard ([`Moments`]), or
//! from each shard's count, exact sum and population variance ([`PartialMoments`], Chan's
//! parallel combination: `M2 = Σ M2ᵢ + Σ Sᵢ²/nᵢ − S²/N`, the correction term exact).
//!
//! MariaDB runs Welford's recurrence in doubles, in the order it reads rows, and prints the
//! result with the input's decimals + 4. The proxy sees the rows in another order, so it
//! keeps the count, sum and sum of squares exactly (`Decimal`), divides once and rounds to
//! the nearest double: within a few units in the last place of MariaDB's double. A result
//! printed with more than [`MAX_SIGNIFICANT_DIGITS`] digits would show those units, and a
//! `FLOAT`, `DOUBLE` or string input prints all 17 digits of the double: both are refused
//! (1235) rather than answered with other last digits. Below that bound the digits agree
//! unless MariaDB's recurrence lost precision (values with a large mean and a tiny spread).

use mysql_common::constants::{ColumnFlags, ColumnType};

use crate::aggregate::exact_precision;
use crate::column::{ColumnMeta, ValueKind};
use crate::decimal::Decimal;
use crate::error::{MergeError, Result};
use crate::value::Value;

/// MariaDB's `FLOATING_POINT_DECIMALS - 1`: the most decimals an exact input's result gets.
const MAX_RESULT_DECIMALS: u8 = 30;
/// The most digits (integer part and decimals) a result may print: a double holds 15 exactly.
const MAX_SIGNIFICANT_DIGITS: i32 = 15;
/// Digits of the exact quotient before it is rounded to a double.
const QUOTIENT_SCALE: u32 = 80;

/// Which member of the family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VarianceKind {
    /// `VARIANCE`, `VAR_POP`
    Population,
    /// `VAR_SAMP`
    Sample,
    /// `STD`, `STDDEV`, `STDDEV_POP`
    PopulationStddev,
    /// `STDDEV_SAMP`
    SampleStddev,
}

impl VarianceKind {
    fn is_sample(self) -> bool {
        matches!(self, VarianceKind::Sample | VarianceKind::SampleStddev)
    }

    fn is_stddev(self) -> bool {
        matches!(
            self,
            VarianceKind::PopulationStddev | VarianceKind::SampleStddev
        )
    }
}

/// The `DOUBLE` column MariaDB gives the result over an `input` column (with
/// `div_precision_increment` = 4); 1235 for inputs whose digits the merge cannot reproduce.
pub fn variance_meta(input: &ColumnMeta) -> Result<ColumnMeta> {
    let kind = input.kind();
    if !(kind == ValueKind::Decimal || kind.is_integer()) {
        return Err(MergeError::Unsupported(format!(
            "STDDEV/VARIANCE of a {:?} column across shards: MariaDB's running double computation depends on the row order; use an integer or DECIMAL argument (CAST(x AS DECIMAL(…)))",
            input.column_type
        )));
    }
    let scale = if kind == ValueKind::Decimal {
        input.decimals
    } else {
        0
    };
    let decimals = (scale + 4).min(MAX_RESULT_DECIMALS);
    let precision = exact_precision(input) * 2 + 4;
    Ok(ColumnMeta::new(ColumnType::MYSQL_TYPE_DOUBLE)
        .with_flags(ColumnFlags::BINARY_FLAG)
        .with_decimals(decimals)
        .with_length(precision + u32::from(decimals > 0) + 1))
}

/// Count, sum and sum of squares of a group's non-NULL values, exactly.
#[derive(Debug, Clone)]
pub(crate) struct Moments {
    count: u64,
    sum: Decimal,
    squares: Decimal,
}

impl Moments {
    pub(crate) fn new() -> Moments {
        Moments {
            count: 0,
            sum: Decimal::zero(0),
            squares: Decimal::zero(0),
        }
    }

    pub(crate) fn add(&mut self, v: &Value, column: usize, meta: &ColumnMeta) -> Result<()> {
        if v.is_null() {
            return Ok(());
        }
        let d = v.as_decimal().ok_or_else(|| MergeError::BadValue {
            column,
            column_type: meta.column_type,
            text: format!("{v:?} is not an exact number"),
        })?;
        self.count += 1;
        self.squares = self.squares.add(&d.mul(&d));
        self.sum = self.sum.add(&d);
        Ok(())
    }

    /// The result: NULL without values (and for a sample of one value).
    pub(crate) fn finish(&self, kind: VarianceKind, meta: &ColumnMeta) -> Result<Value> {
        let sample = u64::from(kind.is_sample());
        if self.count <= sample {
            return Ok(Value::Null);
        }
        let n = Decimal::from(self.count);
        // (n·Σx² − (Σx)²) / (n·(n − sample)): exact, then one rounding.
        let numerator = n.mul(&self.squares).sub(&self.sum.mul(&self.sum));
        let denominator = n.mul(&Decimal::from(self.count - sample));
        let variance = numerator
            .div_round(&denominator, QUOTIENT_SCALE)
            .map_or(0.0, |q| q.to_f64());
        result(variance, kind, meta)
    }
}

/// Shards' `COUNT(x)`, exact `SUM(x)` and `VAR_POP(x)` (a full double), combined.
#[derive(Debug, Clone)]
pub(crate) struct PartialMoments {
    count: u64,
    sum: Decimal,
    /// Σ M2ᵢ, the shards' sums of squared deviations from their own means.
    deviations: f64,
    /// Σ Sᵢ²/nᵢ, exact to [`QUOTIENT_SCALE`] digits.
    spread: Decimal,
}

impl PartialMoments {
    pub(crate) fn new() -> PartialMoments {
        PartialMoments {
            count: 0,
            sum: Decimal::zero(0),
            deviations: 0.0,
            spread: Decimal::zero(0),
        }
    }

    /// Adds one shard's partials (`count` values summing to `sum`, population variance
    /// `variance`); a shard without values sends a count of 0.
    pub(crate) fn add(&mut self, count: u64, sum: Option<Decimal>, variance: Option<f64>) {
        let (Some(sum), Some(variance)) = (sum, variance) else {
            return;
        };
        if count == 0 {
            return;
        }
        let n = Decimal::from(count);
        self.deviations += variance * count as f64;
        if let Some(share) = sum.mul(&sum).div_round(&n, QUOTIENT_SCALE) {
            self.spread = self.spread.add(&share);
        }
        self.count += count;
        self.sum = self.sum.add(&sum);
    }

    pub(crate) fn finish(&self, kind: VarianceKind, meta: &ColumnMeta) -> Result<Value> {
        let sample = u64::from(kind.is_sample());
        if self.count <= sample {
            return Ok(Value::Null);
        }
        let n = Decimal::from(self.count);
        let correction = self
            .sum
            .mul(&self.sum)
            .div_round(&n, QUOTIENT_SCALE)
            .map_or(0.0, |whole| self.spread.sub(&whole).to_f64());
        let m2 = (self.deviations + correction).max(0.0);
        result(m2 / (self.count - sample) as f64, kind, meta)
    }
}

/// The value of `kind` for `variance`, refused when its printed digits would show where the
/// merge's double and MariaDB's differ.
fn result(variance: f64, kind: VarianceKind, meta: &ColumnMeta) -> Result<Value> {
    let value = if kind.is_stddev() {
        variance.sqrt()
    } else {
        variance
    };
    let integer_digits = if value.abs() < 1.0 {
        1
    } else {
        value.abs().log10().floor() as i32 + 1
    };
    if integer_digits + i32::from(meta.decimals) > MAX_SIGNIFICANT_DIGITS {
        return Err(MergeError::Unsupported(format!(
                "a STDDEV/VARIANCE result of {integer_digits} integer digits and {} decimals across shards: MariaDB's running double computation shows in its last digits; round the argument (CAST(x AS DECIMAL(…)) with fewer decimals) or narrow the range",
                meta.decimals
            )));
    }
    Ok(Value::Double {
        value,
        decimals: meta.decimals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::float_text::format_double;
    use proptest::prelude::*;

    fn int() -> ColumnMeta {
        ColumnMeta::new(ColumnType::MYSQL_TYPE_LONG).with_length(11)
    }

    fn text(m: &Moments, kind: VarianceKind, meta: &ColumnMeta) -> String {
        match m.finish(kind, meta).unwrap() {
            Value::Double { value, decimals } => format_double(value, decimals),
            Value::Null => "NULL".into(),
            other => panic!("{other:?}"),
        }
    }

    /// Columns and values as MariaDB 10.11 gives them (`--column-type-info`).
    #[test]
    fn matches_mariadb() {
        let meta = variance_meta(&int()).unwrap();
        assert_eq!((meta.length, meta.decimals), (26, 4));
        let tiny = ColumnMeta::new(ColumnType::MYSQL_TYPE_TINY).with_length(4);
        assert_eq!(variance_meta(&tiny).unwrap().length, 12);
        let big = ColumnMeta::new(ColumnType::MYSQL_TYPE_LONGLONG)
            .with_length(20)
            .with_flags(ColumnFlags::UNSIGNED_FLAG);
        assert_eq!(variance_meta(&big).unwrap().length, 46);
        let dec = ColumnMeta::new(ColumnType::MYSQL_TYPE_NEWDECIMAL)
            .with_length(12)
            .with_decimals(2);
        assert_eq!(
            (
                variance_meta(&dec).unwrap().length,
                variance_meta(&dec).unwrap().decimals
            ),
            (26, 6)
        );
        let double = ColumnMeta::new(ColumnType::MYSQL_TYPE_DOUBLE).with_decimals(31);
        assert!(matches!(
            variance_meta(&double),
            Err(MergeError::Unsupported(_))
        ));

        let mut m = Moments::new();
        for v in [Value::Int(1), Value::Int(2), Value::Null, Value::Int(4)] {
            m.add(&v, 0, &int()).unwrap();
        }
        assert_eq!(text(&m, VarianceKind::PopulationStddev, &meta), "1.2472");
        assert_eq!(text(&m, VarianceKind::Population, &meta), "1.5556");
        assert_eq!(text(&m, VarianceKind::Sample, &meta), "2.3333");

        let dmeta = variance_meta(&dec).unwrap();
        let mut d = Moments::new();
        for s in ["1.50", "-2.25", "3.00"] {
            let v = Value::Decimal(Decimal::parse(s.as_bytes()).unwrap());
            d.add(&v, 0, &dec).unwrap();
        }
        assert_eq!(text(&d, VarianceKind::SampleStddev, &dmeta), "2.704163");

        let mut wide = Moments::new();
        for v in [Value::Int(0), Value::Int(10_000_000_000)] {
            wide.add(&v, 0, &int()).unwrap();
        }
        assert!(matches!(
            wide.finish(VarianceKind::Population, &meta),
            Err(MergeError::Unsupported(_))
        ));

        // Shards {1, 2} and {4}: counts, sums and population variances.
        let mut p = PartialMoments::new();
        p.add(2, Some(Decimal::from(3i64)), Some(0.25));
        p.add(1, Some(Decimal::from(4i64)), Some(0.0));
        p.add(0, None, None);
        let Value::Double { value, .. } = p.finish(VarianceKind::Population, &meta).unwrap() else {
            panic!("not a double");
        };
        assert_eq!(format_double(value, 4), "1.5556");

        let mut one = Moments::new();
        one.add(&Value::Int(7), 0, &int()).unwrap();
        assert_eq!(text(&one, VarianceKind::Sample, &meta), "NULL");
        assert_eq!(text(&one, VarianceKind::Population, &meta), "0.0000");
        assert_eq!(
            text(&Moments::new(), VarianceKind::Population, &meta),
            "NULL"
        );
    }

    proptest! {
        /// Combining any split of the values into shards' partials gives the raw result's text.
        #[test]
        fn partials_combine_like_raw_values(values in proptest::collection::vec(-10_000i64..10_000, 2..60), cut in 0usize..60) {
            let meta = variance_meta(&int()).unwrap();
            let mut raw = Moments::new();
            for &v in &values {
                raw.add(&Value::Int(v), 0, &int()).unwrap();
            }
            let cut = cut.min(values.len());
            let mut parts = PartialMoments::new();
            for shard in [&values[..cut], &values[cut..]] {
                let n = shard.len();
                let sum: i64 = shard.iter().sum();
                let mean = sum as f64 / n.max(1) as f64;
                let var = shard.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n.max(1) as f64;
                parts.add(n as u64, (n > 0).then(|| Decimal::from(sum)), (n > 0).then_some(var));
            }
            for kind in [VarianceKind::Population, VarianceKind::SampleStddev] {
                let (Value::Double { value: a, .. }, Value::Double { value: b, .. }) =
                    (raw.finish(kind, &meta).unwrap(), parts.finish(kind, &meta).unwrap())
                else {
                    panic!("not doubles");
                };
                prop_assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "{} vs {}", a, b);
            }
        }

        /// The exact result is within a relative 1e-12 of a two-pass double computation.
        #[test]
        fn agrees_with_a_two_pass_computation(values in proptest::collection::vec(-10_000i64..10_000, 2..60)) {
            let mut m = Moments::new();
            for &v in &values {
                m.add(&Value::Int(v), 0, &int()).unwrap();
            }
            let n = values.len() as f64;
            let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
            let expected = values.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
            let meta = variance_meta(&int()).unwrap();
            let Value::Double { value, .. } = m.finish(VarianceKind::Population, &meta).unwrap() else {
                panic!("not a double");
            };
            prop_assert!((value - expected).abs() <= 1e-12 * expected.abs().max(1.0));
        }
    }
}
