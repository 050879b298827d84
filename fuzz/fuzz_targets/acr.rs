//! mock-acr's router: the OCI `/v2/` API, ACR's `/acr/v1/`, the exchange and token endpoints;
//! authenticated inputs present the registry's admin user.
#![no_main]

use base64::Engine as _;
use credsim_fuzz::{Fakes, Input, check};
use libfuzzer_sys::fuzz_target;
use mock_kit::site::Scheme;

const ROUTES: &[&str] = &[
    "/v2/",
    "/v2/_catalog",
    "/v2/{}/tags/list",
    "/v2/{}/manifests/{}",
    "/v2/{}/blobs/{}",
    "/v2/{}/blobs/uploads/",
    "/v2/{}/blobs/uploads/{}",
    "/v2/{}/referrers/{}",
    "/v2/project-a/app/manifests/{}",
    "/v2/project-a/app/blobs/{}",
    "/acr/v1/_catalog",
    "/acr/v1/{}",
    "/acr/v1/{}/_tags",
    "/acr/v1/{}/_tags/{}",
    "/acr/v1/{}/_manifests/{}",
    "/oauth2/exchange",
    "/oauth2/token",
];

fuzz_target!(|input: Input| {
    let fakes = Fakes::get();
    let router = fakes.acr.site().router;
    let password = fakes
        .acr
        .admin_passwords("contosoacr")
        .first()
        .map(|p| p.expose().clone())
        .unwrap_or_default();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("contosoacr:{password}"));
    let auth = [("authorization", format!("Basic {basic}"))];
    if let Some(req) = input.request(ROUTES, "contosoacr.azurecr.io", Scheme::Https, &auth) {
        check(&router, req);
    }
});
