//! The `/acr/v1/` metadata API the Azure SDKs use: a repository's attributes, its tags (paged)
//! and one tag, its manifests and one manifest, each with ACR's `changeableAttributes`. The
//! catalog at `/acr/v1/_catalog` is the `/v2/` one (see `lists`).

use axum::response::Response;
use serde_json::{Value, json};

use super::lists::{page, with_link};
use crate::RegistryState;
use crate::model::{CREATED, Manifest, Repository};
use crate::responses::{json_ok, manifest_unknown, name_unknown};

/// `/acr/v1/<name>`: the repository's attributes.
pub(super) fn repository(reg: &RegistryState, name: &str) -> Response {
    let content = reg.content.read().expect("content");
    let Some(repo) = content.get(name) else {
        return name_unknown(name);
    };
    json_ok(json!({"registry": reg.login_server, "imageName": name,
        "createdTime": CREATED, "lastUpdateTime": CREATED,
        "manifestCount": repo.manifests.len(), "tagCount": repo.tags.len(),
        "changeableAttributes": changeable()}))
}

/// `/acr/v1/<name>/_tags`: one page of the repository's tags with their attributes.
pub(super) fn tags(reg: &RegistryState, name: &str, q: &[(String, String)]) -> Response {
    let content = reg.content.read().expect("content");
    let Some(repo) = content.get(name) else {
        return name_unknown(name);
    };
    let tags: Vec<String> = repo.tags.keys().cloned().collect();
    let (slice, link) = page(&tags, q, &format!("/acr/v1/{name}/_tags"));
    let list: Vec<Value> = slice
        .iter()
        .map(|t| tag_attributes(t, &repo.tags[t]))
        .collect();
    with_link(
        json_ok(json!({"registry": reg.login_server, "imageName": name, "tags": list})),
        link,
    )
}

/// `/acr/v1/<name>/_tags/<tag>`: one tag's attributes.
pub(super) fn tag(reg: &RegistryState, name: &str, tag: &str) -> Response {
    let content = reg.content.read().expect("content");
    let Some(repo) = content.get(name) else {
        return name_unknown(name);
    };
    let Some(digest) = repo.tags.get(tag) else {
        return manifest_unknown(tag);
    };
    json_ok(
        json!({"registry": reg.login_server, "imageName": name, "tag": tag_attributes(tag, digest)}),
    )
}

/// `/acr/v1/<name>/_manifests`: every manifest's attributes, by digest.
pub(super) fn manifests(reg: &RegistryState, name: &str) -> Response {
    let content = reg.content.read().expect("content");
    let Some(repo) = content.get(name) else {
        return name_unknown(name);
    };
    let mut list: Vec<&Manifest> = repo.manifests.values().collect();
    list.sort_by(|a, b| a.digest.cmp(&b.digest));
    let manifests: Vec<Value> = list.iter().map(|m| manifest_attributes(repo, m)).collect();
    json_ok(json!({"registry": reg.login_server, "imageName": name, "manifests": manifests}))
}

/// `/acr/v1/<name>/_manifests/<reference>`: one manifest's attributes.
pub(super) fn manifest(reg: &RegistryState, name: &str, digest: &str) -> Response {
    let content = reg.content.read().expect("content");
    let Some(repo) = content.get(name) else {
        return name_unknown(name);
    };
    let Some(m) = repo.resolve(digest) else {
        return manifest_unknown(digest);
    };
    json_ok(
        json!({"registry": reg.login_server, "imageName": name, "manifest": manifest_attributes(repo, m)}),
    )
}

fn changeable() -> Value {
    json!({"deleteEnabled": true, "writeEnabled": true, "readEnabled": true, "listEnabled": true})
}

fn manifest_attributes(repo: &Repository, m: &Manifest) -> Value {
    let mut v = json!({
        "digest": m.digest,
        "imageSize": repo.size_of(m),
        "createdTime": CREATED,
        "lastUpdateTime": CREATED,
        "mediaType": m.media_type,
        "tags": repo.tags_of(&m.digest),
        "changeableAttributes": changeable(),
    });
    if let Some(a) = &m.architecture {
        v["architecture"] = a.clone().into();
    }
    if let Some(o) = &m.os {
        v["os"] = o.clone().into();
    }
    if let Some(c) = &m.config_media_type {
        v["configMediaType"] = c.clone().into();
    }
    v
}

fn tag_attributes(name: &str, digest: &str) -> Value {
    json!({"name": name, "digest": digest, "createdTime": CREATED,
           "lastUpdateTime": CREATED, "signed": false, "changeableAttributes": changeable()})
}
