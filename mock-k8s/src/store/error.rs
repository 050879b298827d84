//! The API server's errors, with its reasons and message shapes, rendered as a `Status`.

use serde_json::{Value, json};

use super::ResourceType;

/// An API error, rendered as a `Status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn not_found(t: &ResourceType, name: &str) -> Self {
        Self {
            code: 404,
            reason: "NotFound",
            message: format!("{} \"{name}\" not found", t.qualified()),
            details: json!({"name": name, "group": t.group, "kind": t.plural}),
        }
    }

    pub fn already_exists(t: &ResourceType, name: &str) -> Self {
        Self {
            code: 409,
            reason: "AlreadyExists",
            message: format!("{} \"{name}\" already exists", t.qualified()),
            details: json!({"name": name, "group": t.group, "kind": t.plural}),
        }
    }

    pub fn conflict(t: &ResourceType, name: &str) -> Self {
        Self {
            code: 409,
            reason: "Conflict",
            message: format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                t.qualified()
            ),
            details: json!({"name": name, "group": t.group, "kind": t.plural}),
        }
    }

    /// 422 with the API server's `Kind.group "name" is invalid: field: Invalid value: v: why`.
    pub fn invalid(
        kind: &str,
        group: &str,
        name: &str,
        field: &str,
        value: &Value,
        why: &str,
    ) -> Self {
        let qualified = if group.is_empty() {
            kind.to_owned()
        } else {
            format!("{kind}.{group}")
        };
        Self {
            code: 422,
            reason: "Invalid",
            message: format!(
                "{qualified} \"{name}\" is invalid: {field}: Invalid value: {value}: {why}"
            ),
            details: json!({"name": name, "group": group, "kind": kind,
                            "causes": [{"reason": "FieldValueInvalid", "message": format!("Invalid value: {value}: {why}"), "field": field}]}),
        }
    }

    pub fn bad_request(message: &str) -> Self {
        Self {
            code: 400,
            reason: "BadRequest",
            message: message.to_owned(),
            details: Value::Null,
        }
    }

    /// The `Status` body.
    pub fn status(&self) -> Value {
        let mut s = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": self.message, "reason": self.reason, "code": self.code});
        if !self.details.is_null() {
            s["details"] = self.details.clone();
        }
        s
    }
}
