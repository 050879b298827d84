//! Equality-based label selectors (`k=v`, `k==v`, `k!=v`, `k`, `!k`); set-based ones are refused.

use serde_json::Value;

use super::ApiError;

/// One requirement of an equality-based label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Requirement {
    Eq(String, String),
    NotEq(String, String),
    Exists(String),
    NotExists(String),
}

impl Requirement {
    pub(super) fn matches(&self, labels: &Value) -> bool {
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        match self {
            Requirement::Eq(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEq(k, v) => get(k) != Some(v.as_str()),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
        }
    }
}

/// The requirements of a selector, all of which an object's labels must meet.
pub(super) fn parse_selector(s: &str) -> Result<Vec<Requirement>, ApiError> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            if let Some((k, v)) = p.split_once("!=") {
                Ok(Requirement::NotEq(k.trim().into(), v.trim().into()))
            } else if let Some((k, v)) = p.split_once("==").or_else(|| p.split_once('=')) {
                Ok(Requirement::Eq(k.trim().into(), v.trim().into()))
            } else if let Some(k) = p.strip_prefix('!') {
                Ok(Requirement::NotExists(k.trim().into()))
            } else if p.contains(' ') || p.contains('(') {
                Err(ApiError::bad_request(&format!(
                    "unable to parse requirement: {p:?} (set-based selectors are not supported)"
                )))
            } else {
                Ok(Requirement::Exists(p.into()))
            }
        })
        .collect()
}
