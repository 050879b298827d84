//! Property: any federated assertion that differs from a valid one in issuer, subject, audience,
//! signature or time window is refused (and the valid one is accepted, so the property is not
//! vacuous).

mod support;

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::json;
use support::*;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| runtime().block_on(World::new()))
}

#[derive(Clone, Debug)]
enum Mutation {
    Issuer(Edit),
    Subject(Edit),
    Audience(Edit),
    /// Flip one bit of the signature.
    Signature(usize, u8),
    /// Shift the validity window entirely into the past or the future (seconds, beyond skew).
    Window(i64),
}

/// A small edit that always changes a string.
#[derive(Clone, Debug)]
enum Edit {
    Append(char),
    DropLast,
    FlipCase(usize),
    Replace(usize, char),
}

fn apply(edit: &Edit, s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    match edit {
        Edit::Append(c) => chars.push(*c),
        Edit::DropLast => {
            chars.pop();
        }
        Edit::FlipCase(i) => {
            let letters: Vec<usize> = (0..chars.len())
                .filter(|&i| chars[i].is_ascii_alphabetic())
                .collect();
            let at = letters[i % letters.len()];
            chars[at] = if chars[at].is_ascii_lowercase() {
                chars[at].to_ascii_uppercase()
            } else {
                chars[at].to_ascii_lowercase()
            };
        }
        Edit::Replace(i, c) => {
            let at = i % chars.len();
            chars[at] = if chars[at] == *c { '#' } else { *c };
        }
    }
    chars.into_iter().collect()
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        proptest::char::range('!', '~').prop_map(Edit::Append),
        Just(Edit::DropLast),
        any::<usize>().prop_map(Edit::FlipCase),
        (any::<usize>(), proptest::char::range('!', '~')).prop_map(|(i, c)| Edit::Replace(i, c)),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        edit().prop_map(Mutation::Issuer),
        edit().prop_map(Mutation::Subject),
        edit().prop_map(Mutation::Audience),
        (any::<usize>(), 0u8..8).prop_map(|(i, b)| Mutation::Signature(i, b)),
        prop_oneof![(-100_000i64..=-3_901), (301i64..=100_000)].prop_map(Mutation::Window),
    ]
}

fn assertion(w: &World, m: Option<&Mutation>) -> String {
    let now = w.clock.unix_seconds();
    let (mut iss, mut sub, mut aud, mut iat) = (
        ISSUER.to_owned(),
        SUBJECT.to_owned(),
        EXCHANGE.to_owned(),
        now,
    );
    match m {
        Some(Mutation::Issuer(e)) => iss = apply(e, &iss),
        Some(Mutation::Subject(e)) => sub = apply(e, &sub),
        Some(Mutation::Audience(e)) => aud = apply(e, &aud),
        Some(Mutation::Window(shift)) => iat += shift,
        _ => {}
    }
    let token = w
        .issuer
        .sign(&json!({"iss": iss, "sub": sub, "aud": [aud], "iat": iat, "nbf": iat, "exp": iat + 3600}))
        .unwrap();
    match m {
        Some(Mutation::Signature(i, bit)) => {
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let (input, sig) = token.rsplit_once('.').unwrap();
            let mut sig = b64.decode(sig).unwrap();
            let at = i % sig.len();
            sig[at] ^= 1 << bit;
            format!("{input}.{}", b64.encode(sig))
        }
        _ => token,
    }
}

#[test]
fn the_unmutated_assertion_is_accepted() {
    let w = world();
    let (s, body) = runtime().block_on(w.federated(&assertion(w, None), None));
    assert_eq!(s, 200, "{body:#}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    #[test]
    fn any_mutated_assertion_is_refused(m in mutation()) {
        let w = world();
        let (s, body) = runtime().block_on(w.federated(&assertion(w, Some(&m)), None));
        prop_assert!(s == 400 || s == 401, "{m:?} got {s}: {body:#}");
        prop_assert!(body.get("access_token").is_none());
        prop_assert!(body["error_description"].as_str().unwrap().starts_with("AADSTS"));
    }
}
