//! The API server's checks of names and metadata: DNS labels and subdomains (RFC 1123), qualified
//! names for label and annotation keys, label values, and the annotations' size; each refusal is
//! `422 Invalid` in the API server's words.

use serde_json::{Value, json};

use super::{ApiError, ResourceType};

/// Whether `name` is a valid DNS subdomain (RFC 1123), as most names must be.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Whether `name` is a valid DNS label (RFC 1123), as a Namespace's name must be.
pub fn valid_label_name(name: &str) -> bool {
    name.len() <= 63 && !name.contains('.') && valid_name(name)
}

/// The API server's checks of an object's metadata that every kind shares (apimachinery's
/// `ValidateObjectMeta`): the name (a DNS label for a Namespace, a DNS subdomain otherwise),
/// label keys and values, annotation keys and the annotations' total size (256 KiB). The first
/// failure is the answer, `422 Invalid` with its field path.
pub fn validate_metadata(t: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    let meta = &obj["metadata"];
    let name = meta["name"].as_str().unwrap_or_default();
    if !meta.is_object() && !meta.is_null() {
        return Err(invalid(t, name, "metadata", meta, "must be an object"));
    }
    validate_name(t, name)?;
    validate_labels(t, name, &meta["labels"])?;
    validate_annotations(t, name, &meta["annotations"])
}

/// `metadata.name`: a DNS label for a Namespace, a DNS subdomain for every other kind.
fn validate_name(t: &ResourceType, name: &str) -> Result<(), ApiError> {
    if t.kind == "Namespace" {
        if !valid_label_name(name) {
            return Err(invalid(
                t,
                name,
                "metadata.name",
                &json!(name),
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            ));
        }
    } else if !valid_name(name) {
        return Err(invalid(
            t,
            name,
            "metadata.name",
            &json!(name),
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        ));
    }
    Ok(())
}

/// `metadata.labels`: qualified names as keys, label values (at most 63 characters) as values.
fn validate_labels(t: &ResourceType, name: &str, labels: &Value) -> Result<(), ApiError> {
    let labels = match labels {
        Value::Null => return Ok(()),
        Value::Object(labels) => labels,
        other => {
            return Err(invalid(
                t,
                name,
                "metadata.labels",
                other,
                "must be an object",
            ));
        }
    };
    for (k, v) in labels {
        if let Some(why) = qualified_name_error(k) {
            return Err(invalid(t, name, "metadata.labels", &json!(k), why));
        }
        let Some(v) = v.as_str() else {
            return Err(invalid(t, name, "metadata.labels", v, "must be a string"));
        };
        if v.len() > 63 {
            return Err(invalid(
                t,
                name,
                "metadata.labels",
                &json!(v),
                "must be no more than 63 characters",
            ));
        }
        if !valid_label_value(v) {
            return Err(invalid(
                t,
                name,
                "metadata.labels",
                &json!(v),
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            ));
        }
    }
    Ok(())
}

/// `metadata.annotations`: qualified names (any case) as keys, strings as values, at most 256 KiB
/// of keys and values together.
fn validate_annotations(t: &ResourceType, name: &str, annotations: &Value) -> Result<(), ApiError> {
    let annotations = match annotations {
        Value::Null => return Ok(()),
        Value::Object(annotations) => annotations,
        other => {
            return Err(invalid(
                t,
                name,
                "metadata.annotations",
                other,
                "must be an object",
            ));
        }
    };
    let mut total = 0usize;
    for (k, v) in annotations {
        if let Some(why) = qualified_name_error(&k.to_ascii_lowercase()) {
            return Err(invalid(t, name, "metadata.annotations", &json!(k), why));
        }
        let Some(v) = v.as_str() else {
            return Err(invalid(
                t,
                name,
                "metadata.annotations",
                v,
                "must be a string",
            ));
        };
        total += k.len() + v.len();
    }
    if total > 256 * 1024 {
        return Err(ApiError {
            code: 422,
            reason: "Invalid",
            message: format!(
                "{} \"{name}\" is invalid: metadata.annotations: Too long: must have at most 262144 bytes",
                t.kind
            ),
            details: json!({"name": name, "group": t.group, "kind": t.kind,
                "causes": [{"reason": "FieldValueTooLong", "message": "Too long: must have at most 262144 bytes", "field": "metadata.annotations"}]}),
        });
    }
    Ok(())
}

/// `422 Invalid` for `field` of the object `name` of type `t`.
fn invalid(t: &ResourceType, name: &str, field: &str, value: &Value, why: &str) -> ApiError {
    ApiError::invalid(t.kind, t.group, name, field, value, why)
}

/// The "name part" of a qualified name (a label or annotation key after its prefix): at most
/// 63 characters, alphanumerics with `-`, `_` or `.` inside.
fn valid_name_part(part: &str) -> bool {
    let b = part.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Why `key` is not a qualified name (`[prefix/]name`, the prefix a DNS subdomain), in the API
/// server's words; `None` when it is one.
fn qualified_name_error(key: &str) -> Option<&'static str> {
    const NAME_PART: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        if p.is_empty() {
            return Some("prefix part must be non-empty");
        }
        if !valid_name(p) {
            return Some(
                "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            );
        }
    }
    if name.is_empty() {
        return Some("name part must be non-empty");
    }
    if name.len() > 63 {
        return Some("name part must be no more than 63 characters");
    }
    (!valid_name_part(name)).then_some(NAME_PART)
}

/// A label value: empty, or a name part.
fn valid_label_value(v: &str) -> bool {
    v.is_empty() || valid_name_part(v)
}
