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
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if !valid_name(&name) {
            return Err(ApiError::invalid(
                t.kind,
                t.group,
                &name,
                "metadata.name",
                &json!(name),
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            ));
        }
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
        let meta = obj["metadata"]
            .as_object_mut()
            .expect("metadata is an object");
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
        let current = self.get(t, namespace, name)?;
        if let Some(rv) = obj["metadata"]["resourceVersion"].as_str()
            && rv != current["metadata"]["resourceVersion"]
        {
            return Err(ApiError::conflict(t, name));
        }
        for keep in ["uid", "creationTimestamp", "namespace", "name"] {
            obj["metadata"][keep] = current["metadata"][keep].clone();
        }
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
        current["metadata"]["resourceVersion"] = Value::Null;
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
