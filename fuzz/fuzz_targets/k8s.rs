//! mock-k8s's router: discovery, core and RBAC objects, TokenRequest, SelfSubjectAccessReview;
//! authenticated inputs present the cluster's admin token.
#![no_main]

use credsim_fuzz::{Fakes, Input, check};
use libfuzzer_sys::fuzz_target;
use mock_kit::site::Scheme;

const ROUTES: &[&str] = &[
    "/version",
    "/api",
    "/apis",
    "/api/v1",
    "/openapi/v3",
    "/api/v1/namespaces",
    "/api/v1/namespaces/{}",
    "/api/v1/namespaces/{}/{}",
    "/api/v1/namespaces/{}/{}/{}",
    "/api/v1/namespaces/project-a/serviceaccounts/{}",
    "/api/v1/namespaces/project-a/serviceaccounts/credentials/token",
    "/api/v1/namespaces/{}/serviceaccounts/{}/token",
    "/apis/rbac.authorization.k8s.io/v1/{}",
    "/apis/rbac.authorization.k8s.io/v1/namespaces/{}/{}/{}",
    "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
    "/apis/{}/{}/{}",
];

fuzz_target!(|input: Input| {
    let fakes = Fakes::get();
    let router = fakes.k8s.site().router;
    let auth = [(
        "authorization",
        format!("Bearer {}", fakes.k8s.admin_token().expose()),
    )];
    let host = fakes.k8s.api_host();
    if let Some(req) = input.request(ROUTES, &host, Scheme::Https, &auth) {
        check(&router, req);
    }
});
