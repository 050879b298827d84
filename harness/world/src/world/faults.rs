//! A world's faults: each scenario fault as a rule in the fault set that sees its requests, the
//! handle that switches it on and off (at start and by `fault` steps), and what a faulted request
//! gets, in the target's own error shape.

use std::collections::BTreeMap;
use std::time::Duration;

use mock_kit::Faults;
use mock_kit::fault::{CertificateFlaw, FaultAction, FaultId, FaultMatch, FaultRule};
use scenarios::model::{self, Answer, FaultTarget};
use scenarios::vocab::CertificateFault;
use serde_json::json;

use super::WorldError;
use crate::cloud::Cloud;

/// A fault of the world: the rule and, while active, where it is installed.
#[derive(Debug)]
pub(super) struct InstalledFault {
    set: Faults,
    rule: FaultRule,
    id: Option<FaultId>,
}

/// The world's faults by name, each in the fault set that sees its requests, the active ones
/// switched on.
pub(super) fn install_faults(
    cloud: &Cloud,
    faults: &[model::Fault],
) -> Result<BTreeMap<String, InstalledFault>, WorldError> {
    let mut installed = BTreeMap::new();
    for f in faults {
        let (set, rule) = fault_rule(cloud, f)?;
        installed.insert(
            f.name.clone(),
            InstalledFault {
                set,
                rule,
                id: None,
            },
        );
        if f.active {
            set_fault(&mut installed, &f.name, true)?;
        }
    }
    Ok(installed)
}

/// Switches the fault `name` on or off (switching it to the state it is in does nothing).
pub(super) fn set_fault(
    faults: &mut BTreeMap<String, InstalledFault>,
    name: &str,
    active: bool,
) -> Result<(), WorldError> {
    let f = faults
        .get_mut(name)
        .ok_or_else(|| WorldError::Missing(format!("fault {name}")))?;
    match (active, f.id) {
        (true, None) => f.id = Some(f.set.inject(f.rule.clone())),
        (false, Some(id)) => {
            f.set.remove(id);
            f.id = None;
        }
        _ => {}
    }
    Ok(())
}

/// The rule for a scenario fault, and the fault set that sees its requests: the fake's own for
/// Entra and IMDS (they tag requests with tenant, client, node and endpoint), the front door's for
/// ACR and clusters (matched by host and path).
fn fault_rule(cloud: &Cloud, f: &model::Fault) -> Result<(Faults, FaultRule), WorldError> {
    let m = &f.matches;
    let mut matches = FaultMatch {
        method: m.method.clone(),
        path_prefix: m.path_prefix.clone(),
        ..FaultMatch::default()
    };
    let set = match f.target {
        // A certificate is the front door's to present, on the implementation's own tunnels.
        model::FaultTarget::Entra if matches!(f.answer, model::Answer::BadCertificate(_)) => {
            matches.site = Some("mock-entra".into());
            matches.host = Some("login.microsoftonline.com".into());
            matches.client = Some("iut/".into());
            cloud.door.faults().clone()
        }
        model::FaultTarget::Entra => {
            matches.site = Some("mock-entra".into());
            if let Some(t) = &m.tenant {
                matches.tags.push(("tenant".into(), t.clone()));
            }
            if let Some(i) = &m.identity {
                matches
                    .tags
                    .push(("client".into(), i.client_id.to_string()));
            }
            if let Some(e) = &m.endpoint {
                matches.tags.push(("endpoint".into(), e.clone()));
            }
            cloud.entra.faults().clone()
        }
        model::FaultTarget::Imds => {
            if let Some(n) = &m.node {
                matches.tags.push(("node".into(), n.clone()));
            }
            if let Some(e) = &m.endpoint {
                matches.tags.push(("endpoint".into(), e.clone()));
            }
            cloud
                .imds
                .as_ref()
                .ok_or_else(|| WorldError::Missing("nodes (for an IMDS fault)".into()))?
                .faults()
                .clone()
        }
        model::FaultTarget::Acr => {
            matches.site = Some("mock-acr".into());
            // A registry fault is on the implementation's path: the harness's probes measure
            // what a returned credential really unlocks, outage or not.
            matches.client = Some("iut/".into());
            matches.host = m
                .registry
                .as_ref()
                .map(|r| format!("{}.azurecr.io", r.to_ascii_lowercase()));
            cloud.door.faults().clone()
        }
        model::FaultTarget::Cluster => {
            // The issuer's discovery document and JWKS are served by the cluster's issuer site.
            let issuer_path = m
                .path_prefix
                .as_deref()
                .is_some_and(|p| p.starts_with("/.well-known/") || p.starts_with("/openid/"));
            let prefix = if issuer_path { "issuer" } else { "k8s" };
            matches.site = m.cluster.as_ref().map(|c| format!("{prefix}/{c}"));
            cloud.door.faults().clone()
        }
    };
    Ok((
        set,
        FaultRule {
            matches,
            action: fault_action(f),
            remaining: f.times,
        },
    ))
}

/// What a faulted request gets, in the target's own error shape.
fn fault_action(f: &model::Fault) -> FaultAction {
    match &f.answer {
        Answer::Throttle { retry_after } => throttled(f.target, *retry_after),
        Answer::Unavailable { status } => unavailable(f.target, *status),
        Answer::Respond {
            status,
            headers,
            body,
        } => FaultAction::Respond {
            status: *status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            body: body.clone(),
        },
        Answer::Delay(d) => FaultAction::Delay { by: *d },
        Answer::Drop => FaultAction::DropConnection,
        Answer::BadCertificate(c) => FaultAction::BadCertificate {
            flaw: match c {
                CertificateFault::UntrustedIssuer => CertificateFlaw::UntrustedIssuer,
                CertificateFault::WrongHost => CertificateFlaw::WrongHost,
                CertificateFault::Expired => CertificateFlaw::Expired,
            },
        },
    }
}

/// A `429` as the target answers it, asking to retry after `retry_after`.
fn throttled(target: FaultTarget, retry_after: Duration) -> FaultAction {
    match target {
        FaultTarget::Entra => {
            mock_entra::faults::throttled(u32::try_from(retry_after.as_secs()).unwrap_or(u32::MAX))
        }
        FaultTarget::Imds => mock_imds::faults::throttled(),
        FaultTarget::Acr => json_body(
            429,
            vec![("Retry-After".into(), retry_after.as_secs().to_string())],
            r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"too many requests","detail":null}]}"#.into(),
        ),
        FaultTarget::Cluster => json_body(
            429,
            vec![("Retry-After".into(), retry_after.as_secs().to_string())],
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Too many requests, please try again later.", "reason": "TooManyRequests",
                "details": {"retryAfterSeconds": retry_after.as_secs()}, "code": 429})
            .to_string(),
        ),
    }
}

/// An outage as the target answers it, with `status`.
fn unavailable(target: FaultTarget, status: u16) -> FaultAction {
    match target {
        FaultTarget::Entra => mock_entra::faults::unavailable(status),
        FaultTarget::Imds if status == 500 => mock_imds::faults::server_error(),
        FaultTarget::Imds => json_body(
            status,
            vec![],
            r#"{"error":"service_unavailable","error_description":"The service is temporarily unavailable"}"#.into(),
        ),
        FaultTarget::Acr => json_body(
            status,
            vec![],
            r#"{"errors":[{"code":"UNAVAILABLE","message":"service unavailable","detail":null}]}"#.into(),
        ),
        FaultTarget::Cluster => json_body(
            status,
            vec![],
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "the server is currently unable to handle the request",
                "reason": "ServiceUnavailable", "code": status})
            .to_string(),
        ),
    }
}

/// A JSON answer: `Content-Type` first, then `headers`.
fn json_body(status: u16, headers: Vec<(String, String)>, body: String) -> FaultAction {
    FaultAction::Respond {
        status,
        headers: [
            vec![(
                "Content-Type".to_owned(),
                "application/json; charset=utf-8".to_owned(),
            )],
            headers,
        ]
        .concat(),
        body,
    }
}
