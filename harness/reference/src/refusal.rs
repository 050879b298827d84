//! Why the reference refused a request: the kind the exec protocol carries, and the message.

use credsim::implementation::RefusalKind;

/// A refusal on its way to becoming an answer.
#[derive(Clone)]
pub(crate) struct Refusal(pub(crate) RefusalKind, pub(crate) String);

pub(crate) fn refuse(kind: RefusalKind, message: impl Into<String>) -> Refusal {
    Refusal(kind, message.into())
}
