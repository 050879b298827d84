//! IMDS faults as the SDKs meet them (reference §5.3, §9 traps 3 and 4): 410 while IMDS updates
//! (retried for 70 s and more), 429 throttling, 500 from the token service, and no answer at all.
//! Inject them with `MockImds::faults()` (tags `node`, `endpoint`) or at the front door on site
//! `mock-imds`.

use std::time::Duration;

use mock_kit::fault::FaultAction;

fn json(status: u16, body: &str) -> FaultAction {
    FaultAction::Respond {
        status,
        headers: vec![(
            "Content-Type".into(),
            "application/json; charset=utf-8".into(),
        )],
        body: body.into(),
    }
}

/// 410 Gone: IMDS is being updated (available again within 70 s).
pub fn updating() -> FaultAction {
    json(
        410,
        r#"{"error":"service_unavailable","error_description":"IMDS is being updated; retry within 70 seconds"}"#,
    )
}

/// 429 Too Many Requests.
pub fn throttled() -> FaultAction {
    json(
        429,
        r#"{"error":"too_many_requests","error_description":"Too many requests; IMDS allows about 5 per second"}"#,
    )
}

/// 500 from the token service behind IMDS.
pub fn server_error() -> FaultAction {
    json(
        500,
        r#"{"error":"unknown","error_description":"Failed to retrieve token from the Active directory. For details see logs in /var/log/azure"}"#,
    )
}

/// No answer at all: the request hangs for `for_how_long` (SDK probes give up after 1 s).
pub fn no_answer(for_how_long: Duration) -> FaultAction {
    FaultAction::Delay { by: for_how_long }
}
