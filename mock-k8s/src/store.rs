//! The object store: the resources credential flows touch, with the API server's semantics.
//!
//! Objects are JSON (`apiVersion`, `kind`, `metadata`, ...). Creating fills `uid`,
//! `resourceVersion` (one counter for the cluster), `creationTimestamp`, `namespace`; names must be
//! DNS labels/subdomains; a namespaced object needs its namespace; duplicates are 409
//! `AlreadyExists`; updates with a stale `resourceVersion` are 409 `Conflict`; unknown objects are
//! 404 `NotFound` with the API server's message shapes. Patches: JSON merge patch, and strategic
//! merge patch treated as a merge patch (exact for the maps and scalars these resources hold;
//! lists are replaced, which for RBAC rules is also what the strategic form does).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Map, Value, json};

/// A resource type the emulator serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceType {
    pub group: &'static str,
    pub version: &'static str,
    /// Plural, lower-case (`serviceaccounts`).
    pub plural: &'static str,
    pub kind: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
}

impl ResourceType {
    /// `v1` or `group/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The name errors use: `serviceaccounts` or `roles.rbac.authorization.k8s.io`.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

const RBAC: &str = "rbac.authorization.k8s.io";

/// Every resource type served.
pub const TYPES: &[ResourceType] = &[
    ResourceType {
        group: "",
        version: "v1",
        plural: "namespaces",
        kind: "Namespace",
        singular: "namespace",
        namespaced: false,
        short_names: &["ns"],
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "serviceaccounts",
        kind: "ServiceAccount",
        singular: "serviceaccount",
        namespaced: true,
        short_names: &["sa"],
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "secrets",
        kind: "Secret",
        singular: "secret",
        namespaced: true,
        short_names: &[],
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "configmaps",
        kind: "ConfigMap",
        singular: "configmap",
        namespaced: true,
        short_names: &["cm"],
    },
    ResourceType {
        group: RBAC,
        version: "v1",
        plural: "roles",
        kind: "Role",
        singular: "role",
        namespaced: true,
        short_names: &[],
    },
    ResourceType {
        group: RBAC,
        version: "v1",
        plural: "rolebindings",
        kind: "RoleBinding",
        singular: "rolebinding",
        namespaced: true,
        short_names: &[],
    },
    ResourceType {
        group: RBAC,
        version: "v1",
        plural: "clusterroles",
        kind: "ClusterRole",
        singular: "clusterrole",
        namespaced: false,
        short_names: &[],
    },
    ResourceType {
        group: RBAC,
        version: "v1",
        plural: "clusterrolebindings",
        kind: "ClusterRoleBinding",
        singular: "clusterrolebinding",
        namespaced: false,
        short_names: &[],
    },
];

/// The type served at `group`/`version`/`plural`.
pub fn lookup(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    TYPES
        .iter()
        .find(|t| t.group == group && t.version == version && t.plural == plural)
}

/// The type of `kind` in `group`.
pub fn by_kind(group: &str, kind: &str) -> Option<&'static ResourceType> {
    TYPES.iter().find(|t| t.group == group && t.kind == kind)
}

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

/// Key of a stored object.
pub type Key = (&'static str, &'static str, String, String);

fn key(t: &ResourceType, namespace: &str, name: &str) -> Key {
    (
        t.group,
        t.plural,
        if t.namespaced {
            namespace.to_owned()
        } else {
            String::new()
        },
        name.to_owned(),
    )
}

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

/// The API server's checks of an object's metadata that every kind shares (apimachinery's
/// `ValidateObjectMeta`): the name (a DNS label for a Namespace, a DNS subdomain otherwise),
/// label keys and values, annotation keys and the annotations' total size (256 KiB). The first
/// failure is the answer, `422 Invalid` with its field path.
pub fn validate_metadata(t: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    let meta = &obj["metadata"];
    let name = meta["name"].as_str().unwrap_or_default();
    let invalid = |field: &str, value: &Value, why: &str| {
        Err(ApiError::invalid(t.kind, t.group, name, field, value, why))
    };
    if !meta.is_object() && !meta.is_null() {
        return invalid("metadata", meta, "must be an object");
    }
    if t.kind == "Namespace" {
        if !valid_label_name(name) {
            return invalid(
                "metadata.name",
                &json!(name),
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            );
        }
    } else if !valid_name(name) {
        return invalid(
            "metadata.name",
            &json!(name),
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        );
    }
    match &meta["labels"] {
        Value::Null => {}
        Value::Object(labels) => {
            for (k, v) in labels {
                if let Some(why) = qualified_name_error(k) {
                    return invalid("metadata.labels", &json!(k), why);
                }
                let Some(v) = v.as_str() else {
                    return invalid("metadata.labels", v, "must be a string");
                };
                if v.len() > 63 {
                    return invalid(
                        "metadata.labels",
                        &json!(v),
                        "must be no more than 63 characters",
                    );
                }
                if !valid_label_value(v) {
                    return invalid(
                        "metadata.labels",
                        &json!(v),
                        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                    );
                }
            }
        }
        other => return invalid("metadata.labels", other, "must be an object"),
    }
    match &meta["annotations"] {
        Value::Null => {}
        Value::Object(annotations) => {
            let mut total = 0usize;
            for (k, v) in annotations {
                if let Some(why) = qualified_name_error(&k.to_ascii_lowercase()) {
                    return invalid("metadata.annotations", &json!(k), why);
                }
                let Some(v) = v.as_str() else {
                    return invalid("metadata.annotations", v, "must be a string");
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
        }
        other => return invalid("metadata.annotations", other, "must be an object"),
    }
    Ok(())
}

/// The store.
#[derive(Debug, Default)]
pub struct Store {
    objects: BTreeMap<Key, Value>,
    revision: u64,
}

impl Store {
    fn next_revision(&mut self) -> String {
        self.revision += 1;
        self.revision.to_string()
    }

    /// The current resource version of the whole store.
    pub fn revision(&self) -> String {
        self.revision.to_string()
    }

    pub fn get(&self, t: &ResourceType, namespace: &str, name: &str) -> Result<Value, ApiError> {
        self.objects
            .get(&key(t, namespace, name))
            .cloned()
            .ok_or_else(|| ApiError::not_found(t, name))
    }

    /// Objects of a type, in one namespace or all (`None`), filtered by a label selector.
    pub fn list(
        &self,
        t: &ResourceType,
        namespace: Option<&str>,
        selector: Option<&str>,
    ) -> Result<Vec<Value>, ApiError> {
        let matcher = match selector {
            Some(s) if !s.is_empty() => Some(parse_selector(s)?),
            _ => None,
        };
        Ok(self
            .objects
            .iter()
            .filter(|((g, p, ns, _), _)| {
                *g == t.group
                    && *p == t.plural
                    && namespace.is_none_or(|n| !t.namespaced || ns == n)
            })
            .map(|(_, v)| v)
            .filter(|v| {
                matcher
                    .as_ref()
                    .is_none_or(|m| m.iter().all(|r| r.matches(&v["metadata"]["labels"])))
            })
            .cloned()
            .collect())
    }

    /// Creates `obj` (its metadata completed); returns the stored object.
    pub fn create(
        &mut self,
        t: &ResourceType,
        namespace: &str,
        mut obj: Value,
        now: Timestamp,
    ) -> Result<Value, ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the request body is not a JSON object",
            ));
        }
        validate_metadata(t, &obj)?;
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if t.namespaced && self.get(&TYPES[0], "", namespace).is_err() {
            return Err(ApiError::not_found(&TYPES[0], namespace));
        }
        let k = key(t, namespace, &name);
        if self.objects.contains_key(&k) {
            return Err(ApiError::already_exists(t, &name));
        }
        obj["apiVersion"] = t.api_version().into();
        obj["kind"] = t.kind.into();
        let rv = self.next_revision();
        let Some(meta) = obj["metadata"].as_object_mut() else {
            return Err(ApiError::bad_request("metadata must be an object"));
        };
        meta.insert("uid".into(), uuid::Uuid::new_v4().to_string().into());
        meta.insert("resourceVersion".into(), rv.into());
        meta.insert(
            "creationTimestamp".into(),
            now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string().into(),
        );
        if t.namespaced {
            meta.insert("namespace".into(), namespace.into());
        } else {
            meta.remove("namespace");
        }
        if t.kind == "Namespace" {
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
            obj["status"] = json!({"phase": "Active"});
        }
        if t.kind == "Secret" {
            default_secret(&mut obj);
        }
        self.objects.insert(k, obj.clone());
        Ok(obj)
    }

    /// Replaces an object (PUT); a `resourceVersion` in the body must be current.
    pub fn update(
        &mut self,
        t: &ResourceType,
        namespace: &str,
        name: &str,
        mut obj: Value,
    ) -> Result<Value, ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the request body is not a JSON object",
            ));
        }
        // As the API server: a body that names another object, or another namespace, than the
        // URL is refused before anything is looked up.
        if let Some(body_name) = obj["metadata"]["name"].as_str()
            && body_name != name
        {
            return Err(ApiError::bad_request(&format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        if t.namespaced
            && let Some(body_ns) = obj["metadata"]["namespace"].as_str()
            && body_ns != namespace
        {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let current = self.get(t, namespace, name)?;
        if let Some(rv) = obj["metadata"]["resourceVersion"].as_str()
            && rv != current["metadata"]["resourceVersion"]
        {
            return Err(ApiError::conflict(t, name));
        }
        if obj["metadata"].is_null() {
            obj["metadata"] = json!({});
        } else if !obj["metadata"].is_object() {
            return validate_metadata(t, &obj).map(|()| Value::Null);
        }
        for keep in ["uid", "creationTimestamp", "namespace", "name"] {
            obj["metadata"][keep] = current["metadata"][keep].clone();
        }
        validate_metadata(t, &obj)?;
        obj["apiVersion"] = t.api_version().into();
        obj["kind"] = t.kind.into();
        obj["metadata"]["resourceVersion"] = self.next_revision().into();
        if obj["metadata"]["namespace"].is_null()
            && let Some(m) = obj["metadata"].as_object_mut()
        {
            m.remove("namespace");
        }
        self.objects.insert(key(t, namespace, name), obj.clone());
        Ok(obj)
    }

    /// Applies a merge patch.
    pub fn patch(
        &mut self,
        t: &ResourceType,
        namespace: &str,
        name: &str,
        patch: &Value,
    ) -> Result<Value, ApiError> {
        let mut current = self.get(t, namespace, name)?;
        merge(&mut current, patch);
        if !current.is_object() {
            return Err(ApiError::bad_request("the patch is not a JSON object"));
        }
        if let Some(meta) = current["metadata"].as_object_mut() {
            meta.insert("resourceVersion".into(), Value::Null);
        }
        self.update(t, namespace, name, current)
    }

    pub fn delete(
        &mut self,
        t: &ResourceType,
        namespace: &str,
        name: &str,
    ) -> Result<Value, ApiError> {
        let obj = self
            .objects
            .remove(&key(t, namespace, name))
            .ok_or_else(|| ApiError::not_found(t, name))?;
        if t.kind == "Namespace" {
            self.objects.retain(|(_, _, ns, _), _| ns != name);
        }
        Ok(obj)
    }
}

/// What the API server does to a Secret on write: `type` defaults to `Opaque`, and `stringData`
/// is folded into `data` (base64) and dropped.
fn default_secret(obj: &mut Value) {
    use base64::Engine as _;
    if obj["type"].as_str().is_none_or(str::is_empty) {
        obj["type"] = "Opaque".into();
    }
    if let Some(Value::Object(string_data)) =
        obj.as_object_mut().and_then(|o| o.remove("stringData"))
    {
        if !obj["data"].is_object() {
            obj["data"] = json!({});
        }
        for (k, v) in string_data {
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(v.as_str().unwrap_or_default());
            obj["data"][k] = encoded.into();
        }
    }
}

/// RFC 7386 JSON merge patch.
pub fn merge(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let t = target.as_object_mut().expect("object");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// One requirement of an equality-based label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    Eq(String, String),
    NotEq(String, String),
    Exists(String),
    NotExists(String),
}

impl Requirement {
    fn matches(&self, labels: &Value) -> bool {
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        match self {
            Requirement::Eq(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEq(k, v) => get(k) != Some(v.as_str()),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
        }
    }
}

fn parse_selector(s: &str) -> Result<Vec<Requirement>, ApiError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-29T18:00:00Z".parse().unwrap()
    }

    fn sa(name: &str, labels: Value) -> Value {
        json!({"metadata": {"name": name, "labels": labels}})
    }

    #[test]
    fn metadata_is_validated_as_the_api_server_does() {
        let mut s = Store::default();
        let ns = &TYPES[0];
        let sat = &TYPES[1];
        let invalid = |r: Result<Value, ApiError>| {
            let e = r.unwrap_err();
            assert_eq!(e.code, 422, "{}", e.message);
            assert_eq!(e.reason, "Invalid");
            e.details["causes"][0]["field"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        };
        // A Namespace's name is a DNS label: no dots.
        assert_eq!(
            invalid(s.create(ns, "", json!({"metadata": {"name": "a.b"}}), now())),
            "metadata.name"
        );
        s.create(ns, "", json!({"metadata": {"name": "p"}}), now())
            .unwrap();
        // A ServiceAccount's may have dots.
        s.create(sat, "p", sa("a.b", json!({})), now()).unwrap();
        for labels in [
            json!({"bad key": "v"}),
            json!({"-x": "v"}),
            json!({"Example.com/x": "v"}),
            json!({"/x": "v"}),
            json!({"k": "bad value"}),
            json!({"k": "v".repeat(64)}),
            json!({"k": 5}),
            json!({"k".repeat(64): "v"}),
        ] {
            assert_eq!(
                invalid(s.create(sat, "p", sa("l", labels.clone()), now())),
                "metadata.labels",
                "{labels}"
            );
        }
        s.create(
            sat,
            "p",
            sa("l", json!({"example.com/k": "", "a_b.c-d": "V_1.2-3"})),
            now(),
        )
        .unwrap();
        let annotated = |a: Value| json!({"metadata": {"name": "an", "annotations": a}});
        for a in [
            json!({"azure.workload.identity/": "x"}),
            json!({"a b": "x"}),
            json!({"k": ["not", "a", "string"]}),
            json!({"k": "x".repeat(256 * 1024)}),
        ] {
            assert_eq!(
                invalid(s.create(sat, "p", annotated(a.clone()), now())),
                "metadata.annotations"
            );
        }
        s.create(
            sat,
            "p",
            annotated(json!({"azure.workload.identity/client-id": "not checked, any text"})),
            now(),
        )
        .unwrap();
        // Updates are checked too, and must name the object of the URL.
        assert_eq!(
            invalid(s.update(sat, "p", "l", sa("l", json!({"k": "bad value"})))),
            "metadata.labels"
        );
        let e = s.update(sat, "p", "l", sa("other", json!({}))).unwrap_err();
        assert_eq!(e.code, 400);
        assert_eq!(
            e.message,
            "the name of the object (other) does not match the name on the URL (l)"
        );
        let e = s
            .update(
                sat,
                "p",
                "l",
                json!({"metadata": {"name": "l", "namespace": "q"}}),
            )
            .unwrap_err();
        assert_eq!(e.code, 400);
        // Bodies that are not objects, or whose metadata is not one, are refused, not a panic.
        assert_eq!(s.update(sat, "p", "l", json!([1])).unwrap_err().code, 400);
        assert_eq!(
            invalid(s.update(sat, "p", "l", json!({"metadata": 5}))),
            "metadata"
        );
        assert_eq!(s.patch(sat, "p", "l", &json!("x")).unwrap_err().code, 400);
        assert_eq!(
            invalid(s.patch(sat, "p", "l", &json!({"metadata": 5}))),
            "metadata"
        );
        let e = s
            .patch(
                sat,
                "p",
                "l",
                &json!({"metadata": {"labels": {"k": "bad value"}}}),
            )
            .unwrap_err();
        assert_eq!(e.code, 422);
        // A valid patch still works.
        let patched = s
            .patch(sat, "p", "l", &json!({"metadata": {"labels": {"k": "v"}}}))
            .unwrap();
        assert_eq!(patched["metadata"]["labels"]["k"], "v");
    }

    #[test]
    fn create_get_conflict_and_namespace_rules() {
        let mut s = Store::default();
        let ns = by_kind("", "Namespace").unwrap();
        let sat = by_kind("", "ServiceAccount").unwrap();
        let err = s.create(sat, "p", sa("x", json!({})), now()).unwrap_err();
        assert_eq!(err.code, 404);
        assert_eq!(err.message, "namespaces \"p\" not found");
        s.create(ns, "", json!({"metadata": {"name": "p"}}), now())
            .unwrap();
        let created = s.create(sat, "p", sa("x", json!({})), now()).unwrap();
        assert_eq!(created["metadata"]["namespace"], "p");
        assert_eq!(created["kind"], "ServiceAccount");
        assert_eq!(
            s.create(sat, "p", sa("x", json!({})), now())
                .unwrap_err()
                .message,
            "serviceaccounts \"x\" already exists"
        );
        let bad = s
            .create(sat, "p", sa("Bad_Name", json!({})), now())
            .unwrap_err();
        assert_eq!(bad.code, 422);
        let mut stale = created.clone();
        stale["metadata"]["resourceVersion"] = "1".into();
        assert_eq!(
            s.update(sat, "p", "x", stale).unwrap_err().reason,
            "Conflict"
        );
        let patched = s
            .patch(
                sat,
                "p",
                "x",
                &json!({"metadata": {"annotations": {"a": "b"}}}),
            )
            .unwrap();
        assert_eq!(patched["metadata"]["annotations"]["a"], "b");
        assert_ne!(
            patched["metadata"]["resourceVersion"],
            created["metadata"]["resourceVersion"]
        );
        assert_eq!(
            s.get(sat, "p", "nope").unwrap_err().message,
            "serviceaccounts \"nope\" not found"
        );
        s.delete(ns, "", "p").unwrap();
        assert!(
            s.get(sat, "p", "x").is_err(),
            "deleting a namespace deletes its objects"
        );
    }

    #[test]
    fn label_selectors() {
        let mut s = Store::default();
        let ns = by_kind("", "Namespace").unwrap();
        let sat = by_kind("", "ServiceAccount").unwrap();
        s.create(ns, "", json!({"metadata": {"name": "p"}}), now())
            .unwrap();
        s.create(sat, "p", sa("a", json!({"team": "x", "tier": "1"})), now())
            .unwrap();
        s.create(sat, "p", sa("b", json!({"team": "y"})), now())
            .unwrap();
        let names = |sel: &str| -> Vec<String> {
            s.list(sat, Some("p"), Some(sel))
                .unwrap()
                .iter()
                .map(|o| o["metadata"]["name"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(names("team=x"), ["a"]);
        assert_eq!(names("team!=x"), ["b"]);
        assert_eq!(names("tier"), ["a"]);
        assert_eq!(names("!tier"), ["b"]);
        assert_eq!(names("team==y,!tier"), ["b"]);
        assert!(s.list(sat, Some("p"), Some("team in (x)")).is_err());
    }

    #[test]
    fn merge_patch_follows_rfc7386() {
        let mut v = json!({"a": {"b": 1, "c": 2}, "d": [1, 2]});
        merge(&mut v, &json!({"a": {"b": null, "e": 3}, "d": [3]}));
        assert_eq!(v, json!({"a": {"c": 2, "e": 3}, "d": [3]}));
    }
}
