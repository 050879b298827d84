//! The object store: the resources credential flows touch, with the API server's semantics.
//!
//! Objects are JSON (`apiVersion`, `kind`, `metadata`, ...). Creating fills `uid`,
//! `resourceVersion` (one counter for the cluster), `creationTimestamp`, `namespace`; names must be
//! DNS labels/subdomains; a namespaced object needs its namespace; duplicates are 409
//! `AlreadyExists`; updates with a stale `resourceVersion` are 409 `Conflict`; unknown objects are
//! 404 `NotFound` with the API server's message shapes. Patches: JSON merge patch, and strategic
//! merge patch treated as a merge patch (exact for the maps and scalars these resources hold;
//! lists are replaced, which for RBAC rules is also what the strategic form does).
//!
//! This file holds the [`Store`] and the merge patch; the rest, re-exported here: the resource
//! types served (`types`), [`ApiError`] (`error`), the checks of names and metadata
//! (`validation`) and label selectors (`selector`).

mod error;
mod selector;
mod types;
mod validation;

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Map, Value, json};

pub use error::ApiError;
use selector::parse_selector;
pub use types::{ResourceType, TYPES, by_kind, lookup};
pub use validation::{valid_label_name, valid_name, validate_metadata};

/// Key of a stored object.
pub type Key = (&'static str, &'static str, String, String);

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
