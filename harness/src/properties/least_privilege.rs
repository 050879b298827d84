//! `least-privilege`: registry access tokens the implementation requests cover only the
//! repository it was asked about and the actions it needs (`pull`, `metadata_read`).
//!
//! Threat: `registry:catalog:*`, `push`, wildcard repositories. Evidence: the registry token
//! journal (requested scopes) during each request.

use scenarios::model::PropertyId;

use super::{PropertyResult, at};
use crate::run::Evidence;

pub fn judge(e: &Evidence<'_>) -> PropertyResult {
    let mut examined = 0;
    let mut result = PropertyResult::new(PropertyId::LeastPrivilege, String::new());
    for r in &e.requests {
        for ev in r
            .acr_events(e.world)
            .into_iter()
            .filter(|ev| ev.endpoint == "token")
        {
            examined += 1;
            for scope in &ev.requested {
                let ok = scope
                    .strip_prefix(&format!("repository:{}:", r.request.repository))
                    .is_some_and(|actions| {
                        actions
                            .split(',')
                            .all(|a| a == "pull" || a == "metadata_read")
                    });
                if !ok {
                    result.fail_at(
                        r,
                        format!(
                            "asked about {}, the implementation requested the scope `{scope}`",
                            r.request.repository
                        ),
                        format!(
                            "{}: {} token request for `{scope}` (granted [{}])",
                            at(r),
                            ev.registry,
                            ev.granted.join(" ")
                        ),
                    );
                }
            }
        }
    }
    if examined == 0 {
        return PropertyResult::not_applicable(
            PropertyId::LeastPrivilege,
            "the implementation requested no registry access token (it hands out refresh tokens)",
        );
    }
    result.examined = format!("{examined} registry token request(s)");
    result
}
