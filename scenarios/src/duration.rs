//! Durations as scenario authors write them: `90s`, `5m`, `3h`, `2h30m`, `1d`.
//!
//! One or more `<integer><unit>` groups with units `d`, `h`, `m`, `s` in that order, each at most
//! once; `0s` is zero. The canonical form (what [`Span`]'s `Display` writes and the serializer
//! emits) uses the largest units first, so a duration written canonically round-trips exactly.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration in whole seconds, written as `1d2h3m4s`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(pub Duration);

impl Span {
    pub fn from_secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }

    pub fn as_duration(self) -> Duration {
        self.0
    }
}

/// The units, largest first.
const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

/// The pattern the JSON Schema gives editors.
const PATTERN: &str = r"^([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$";

impl FromStr for Span {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "invalid duration {s:?}: write whole numbers with units d, h, m, s in that order, e.g. `90s`, `5m`, `2h30m`"
            )
        };
        if s.is_empty() {
            return Err(bad());
        }
        let mut total: u64 = 0;
        let mut rest = s;
        let mut next_unit = 0;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad());
            }
            let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
            let unit = rest[digits..].chars().next().ok_or_else(bad)?;
            let idx = UNITS[next_unit..]
                .iter()
                .position(|(u, _)| *u == unit)
                .ok_or_else(bad)?;
            let factor = UNITS[next_unit + idx].1;
            total = n
                .checked_mul(factor)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| format!("duration {s:?} is too long"))?;
            next_unit += idx + 1;
            rest = &rest[digits + unit.len_utf8()..];
        }
        Ok(Span(Duration::from_secs(total)))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut secs = self.0.as_secs();
        if secs == 0 {
            return f.write_str("0s");
        }
        for (unit, factor) in UNITS {
            if secs >= factor {
                write!(f, "{}{unit}", secs / factor)?;
                secs %= factor;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl JsonSchema for Span {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": PATTERN,
            "description": "A duration: whole numbers with units d, h, m, s in that order, e.g. `90s`, `5m`, `2h30m`.",
            "examples": ["90s", "5m", "2h30m"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_in_order() {
        assert_eq!("90s".parse::<Span>().unwrap(), Span::from_secs(90));
        assert_eq!("2h30m".parse::<Span>().unwrap(), Span::from_secs(9000));
        assert_eq!("1d".parse::<Span>().unwrap(), Span::from_secs(86_400));
        assert_eq!("0s".parse::<Span>().unwrap(), Span::from_secs(0));
        for bad in ["", "5", "m", "30m2h", "1h1h", "1.5h", "-1s", "1w", "1h "] {
            assert!(bad.parse::<Span>().is_err(), "{bad:?} must be refused");
        }
        assert!("99999999999999999999d".parse::<Span>().is_err());
    }

    #[test]
    fn display_is_canonical_and_round_trips() {
        for secs in [0, 1, 59, 60, 61, 3600, 5400, 86_400, 90_061] {
            let span = Span::from_secs(secs);
            let text = span.to_string();
            assert_eq!(text.parse::<Span>().unwrap(), span, "{text}");
        }
        assert_eq!(Span::from_secs(90_061).to_string(), "1d1h1m1s");
        assert_eq!(Span::from_secs(5400).to_string(), "1h30m");
    }
}
