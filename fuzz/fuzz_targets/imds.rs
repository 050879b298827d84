//! mock-imds's router: the managed-identity token endpoint, instance metadata, and the App Service
//! variant; authenticated inputs send `Metadata: true` (and the App Service identity header).
#![no_main]

use credsim_fuzz::{Fakes, Input, check};
use libfuzzer_sys::fuzz_target;
use mock_kit::site::Scheme;

const ROUTES: &[&str] = &[
    "/metadata/identity/oauth2/token",
    "/metadata/instance",
    "/metadata/instance/{}",
    "/msi/token",
    "/{}",
];

fuzz_target!(|input: Input| {
    let fakes = Fakes::get();
    let router = fakes.imds.site().router;
    let header = fakes
        .imds
        .identity_header("node-a")
        .map(|h| h.expose().clone())
        .unwrap_or_default();
    let creds = [
        ("metadata", "true".to_owned()),
        ("x-identity-header", header),
    ];
    if let Some(req) = input.request(ROUTES, mock_imds::IMDS_HOST, Scheme::Http, &creds) {
        check(&router, req);
    }
});
