//! Who a request acts as and what they may do: impersonation (`Impersonate-User`,
//! `Impersonate-Group`, as `kubectl --as` sends them) and SelfSubjectAccessReview (`kubectl auth
//! can-i`).

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::parse_body;
use super::status::{error, json_response, status_error};
use crate::Inner;
use crate::rbac::{Attributes, UserInfo, authorize};
use crate::store::ApiError;

/// Impersonation, as the API server's filter does it: the caller needs the `impersonate` verb on
/// the user (on `serviceaccounts` for a ServiceAccount user name) and on each group; the request
/// then acts as that user, with the groups given, or a ServiceAccount's groups when none are, plus
/// `system:authenticated`. Without `Impersonate-User` the request acts as the caller.
pub(super) fn impersonate(
    inner: &Inner,
    user: UserInfo,
    headers: &HeaderMap,
) -> Result<UserInfo, Box<Response>> {
    let Some(as_user) = headers
        .get("impersonate-user")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        if headers.contains_key("impersonate-group") {
            return Err(Box::new(status_error(
                500,
                "InternalError",
                "requested impersonation of groups without impersonating a user",
            )));
        }
        return Ok(user);
    };
    let groups: Vec<String> = headers
        .get_all("impersonate-group")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    let sa = as_user
        .strip_prefix("system:serviceaccount:")
        .and_then(|r| r.split_once(':'));
    let checks = impersonation_checks(&as_user, sa, &groups);
    let store = inner.store.read().expect("store");
    for attrs in &checks {
        if !authorize(&store, &user, attrs).0 {
            return Err(Box::new(error(&ApiError {
                code: 403,
                reason: "Forbidden",
                message: attrs.forbidden_message(&user),
                details: Value::Null,
            })));
        }
    }
    Ok(impersonated(&as_user, sa, groups))
}

/// `POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews`: whether the caller may do what
/// the review's resource or non-resource attributes describe, answered in its `status`.
pub(super) fn access_review(inner: &Inner, user: &UserInfo, body: &[u8]) -> Response {
    let mut review = match parse_body(body) {
        Ok(v) => v,
        Err(e) => return error(&e),
    };
    let spec = &review["spec"];
    let attrs = if let Some(r) = spec.get("resourceAttributes").filter(|r| r.is_object()) {
        let s = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
        Attributes::Resource {
            verb: s("verb"),
            group: s("group"),
            resource: s("resource"),
            subresource: s("subresource"),
            namespace: s("namespace"),
            name: s("name"),
        }
    } else if let Some(n) = spec.get("nonResourceAttributes").filter(|n| n.is_object()) {
        Attributes::NonResource {
            verb: n["verb"].as_str().unwrap_or_default().into(),
            path: n["path"].as_str().unwrap_or_default().into(),
        }
    } else {
        return error(&ApiError::invalid(
            "SelfSubjectAccessReview",
            "authorization.k8s.io",
            "",
            "spec.resourceAttributes",
            &json!(null),
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        ));
    };
    let (allowed, reason) = authorize(&inner.store.read().expect("store"), user, &attrs);
    review["status"] = json!({"allowed": allowed, "reason": reason});
    review["apiVersion"] = "authorization.k8s.io/v1".into();
    review["kind"] = "SelfSubjectAccessReview".into();
    json_response(StatusCode::CREATED, &review)
}

/// What the caller must be allowed to impersonate `as_user` (the ServiceAccount `sa` when the
/// name is one's) with `groups`: the user first, then each group.
fn impersonation_checks(
    as_user: &str,
    sa: Option<(&str, &str)>,
    groups: &[String],
) -> Vec<Attributes> {
    let mut checks = vec![match sa {
        Some((ns, name)) => Attributes::Resource {
            verb: "impersonate".into(),
            group: String::new(),
            resource: "serviceaccounts".into(),
            subresource: String::new(),
            namespace: ns.into(),
            name: name.into(),
        },
        None => Attributes::Resource {
            verb: "impersonate".into(),
            group: String::new(),
            resource: "users".into(),
            subresource: String::new(),
            namespace: String::new(),
            name: as_user.to_owned(),
        },
    }];
    checks.extend(groups.iter().map(|g| Attributes::Resource {
        verb: "impersonate".into(),
        group: String::new(),
        resource: "groups".into(),
        subresource: String::new(),
        namespace: String::new(),
        name: g.clone(),
    }));
    checks
}

/// The user a request impersonating `as_user` acts as: a ServiceAccount's groups when no group is
/// given, and `system:authenticated` for anyone but `system:anonymous`.
fn impersonated(as_user: &str, sa: Option<(&str, &str)>, groups: Vec<String>) -> UserInfo {
    let mut impersonated = match (sa, groups.is_empty()) {
        (Some((ns, name)), true) => UserInfo::service_account(ns, name),
        _ => UserInfo {
            name: as_user.to_owned(),
            groups,
        },
    };
    if as_user != "system:anonymous"
        && !impersonated
            .groups
            .iter()
            .any(|g| g == "system:authenticated")
    {
        impersonated.groups.push("system:authenticated".into());
    }
    impersonated
}
