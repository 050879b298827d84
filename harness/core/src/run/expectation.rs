//! A request's expectation (`expect:` in the scenario) checked against what it came to.

use crate::evidence::RequestRecord;
use crate::result::{ExpectationFailure, outcome_of};

use super::transcript::redact;
use crate::implementation::Answer;
use credsim_world::world::RunningWorld;

pub(super) fn check_expectation(
    world: &RunningWorld,
    rec: &RequestRecord,
    failures: &mut Vec<ExpectationFailure>,
) {
    let mut fail = |message: String| {
        failures.push(ExpectationFailure {
            step: rec.step,
            line: rec.line,
            message,
            unexpected_pass: false,
            expected: None,
        })
    };
    let expected = rec.expect.outcome;
    let got = outcome_of(&rec.answer);
    let got_text = match (&rec.answer, got) {
        (Answer::Refused { message, .. }, Some(o)) => {
            format!("{} ({})", o.as_str(), redact(world, message))
        }
        (Answer::Refused { message, .. }, None) => format!("internal ({})", redact(world, message)),
        (_, Some(o)) => o.as_str().to_owned(),
        (_, None) => "internal".to_owned(),
    };
    if got != Some(expected) {
        fail(format!("expected `{}`, got {got_text}", expected.as_str()));
        return;
    }
    let unlocked = rec.unlocked();
    for u in &rec.expect.unlocks {
        if !unlocked.contains(u) {
            fail(format!("the credential does not unlock {u}"));
        }
    }
    for u in &rec.expect.must_not_unlock {
        if unlocked.contains(u) {
            fail(format!("the credential unlocks {u}, which it must not"));
        }
    }
    if let Some(code) = &rec.expect.error {
        let entra = world
            .cloud
            .entra
            .journal()
            .since(rec.entra_seq.0)
            .into_iter()
            .take(rec.entra_seq.1 - rec.entra_seq.0)
            .filter_map(|e| e.as_token().and_then(|t| t.error_code()))
            .map(|c| format!("AADSTS{c}"))
            .collect::<Vec<_>>();
        let acr = world
            .cloud
            .acr
            .as_ref()
            .map(|a| {
                a.journal()
                    .since(rec.acr_seq.0)
                    .into_iter()
                    .take(rec.acr_seq.1 - rec.acr_seq.0)
                    .filter_map(|e| e.error)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        if !entra.iter().chain(&acr).any(|c| c.contains(code.as_str())) {
            fail(format!(
                "the cloud never answered {code} during the request (Entra said [{}], ACR said [{}])",
                entra.join(", "),
                acr.join(", ")
            ));
        }
    }
}
