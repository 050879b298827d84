//! mock-entra's router: the token endpoints (v2 and v1), discovery, JWKS, instance discovery.
#![no_main]

use credsim_fuzz::{Fakes, Input, check};
use libfuzzer_sys::fuzz_target;
use mock_kit::site::Scheme;

const ROUTES: &[&str] = &[
    "/{}/oauth2/v2.0/token",
    "/{}/oauth2/token",
    "/{}/v2.0/.well-known/openid-configuration",
    "/{}/.well-known/openid-configuration",
    "/{}/discovery/v2.0/keys",
    "/{}/discovery/keys",
    "/common/discovery/instance",
    "/{}/{}",
];

fuzz_target!(|input: Input| {
    let fakes = Fakes::get();
    let router = fakes.entra.site().router;
    // A form body is what the token endpoints parse: give it the content type most of the time.
    let form = [(
        "content-type",
        "application/x-www-form-urlencoded".to_owned(),
    )];
    if let Some(req) = input.request(ROUTES, "login.microsoftonline.com", Scheme::Https, &form) {
        check(&router, req);
    }
});
