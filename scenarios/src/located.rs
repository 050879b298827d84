//! Values that remember where in the file they were written.
//!
//! [`Located<T>`] decodes through `serde_saphyr::Spanned<T>` to capture the line and column of the
//! YAML node, serializes as the bare value, and describes itself in the JSON Schema as `T`, so
//! authors never see it. Semantic errors (a dangling reference, a duplicate name) point at the
//! exact node with it.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 1-based line and column; `0:0` when unknown (a value built in code, not read from a file).
#[derive(Clone, Copy, Debug, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl Pos {
    pub const UNKNOWN: Pos = Pos { line: 0, col: 0 };

    pub fn new(line: u32, col: u32) -> Self {
        Self { line, col }
    }

    pub fn is_known(self) -> bool {
        self.line > 0
    }
}

/// Positions never take part in equality: a scenario built in code equals the same scenario read
/// from a file, which is what the round-trip property relies on. Tests that care about a position
/// compare `line` and `col` directly.
impl PartialEq for Pos {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for Pos {}

impl std::hash::Hash for Pos {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A value and where it was written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Located<T> {
    pub value: T,
    pub at: Pos,
}

impl<T> Located<T> {
    /// A value with no position (built in code).
    pub fn new(value: T) -> Self {
        Self {
            value,
            at: Pos::UNKNOWN,
        }
    }

    pub fn at(value: T, at: Pos) -> Self {
        Self { value, at }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Located<U> {
        Located {
            value: f(self.value),
            at: self.at,
        }
    }
}

impl<T> Deref for Located<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> From<T> for Located<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Located<String> {
    fn from(value: &str) -> Self {
        Self::new(value.to_owned())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<T>::deserialize(deserializer)?;
        let loc = spanned.referenced;
        Ok(Self {
            value: spanned.value,
            at: Pos::new(
                u32::try_from(loc.line()).unwrap_or(u32::MAX),
                u32::try_from(loc.column()).unwrap_or(u32::MAX),
            ),
        })
    }
}

impl<T: Serialize> Serialize for Located<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

impl<T: JsonSchema> JsonSchema for Located<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}
