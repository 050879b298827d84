//! Entra's error answers, exactly as clients parse them.
//!
//! Shape (research notes `entra-imds.md` §1.5): `{"error", "error_description", "error_codes",
//! "timestamp", "trace_id", "correlation_id", "error_uri"}`; the description starts with
//! `AADSTS{code}: ` and ends with ` Trace ID: … Correlation ID: … Timestamp: …` (the 2024+ form,
//! single spaces); `error_codes` is an array of integers; `timestamp` is `YYYY-MM-DD HH:MM:SSZ`;
//! `invalid_client` is HTTP 401, everything else 400; `correlation_id` echoes the client's
//! `client-request-id`. Every variant of [`Aadsts`] is one row of the reference's §1.6 catalogue.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::Serialize;
use uuid::Uuid;

/// One Entra error, with the facts its message needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Aadsts {
    /// 90002: unknown tenant. `segment` is the path segment exactly as sent.
    TenantNotFound { segment: String },
    /// 900023: a tenant segment that is not even a DNS name.
    InvalidTenantIdentifier { segment: String },
    /// 700016: unknown client ID in the tenant.
    AppNotFound { client_id: String, tenant: String },
    /// 7000215: wrong client secret.
    InvalidClientSecret { client_id: String },
    /// 7000222: the secret has expired.
    ExpiredClientSecret { client_id: String },
    /// 7000218: neither secret nor assertion.
    MissingClientCredential,
    /// 70025: an assertion for an identity with no federated credentials.
    NoFederatedCredentials {
        client_id: String,
        display_name: String,
    },
    /// 70021: the legacy generic "no matching federated identity record", which is also what a
    /// credential that has not propagated yet produces.
    NoMatchingRecordLegacy {
        issuer: String,
        subject: String,
        audience: String,
    },
    /// 700211: no federated credential with the assertion's issuer.
    NoMatchingIssuer { issuer: String },
    /// 700212: issuer and subject matched, audience not.
    NoMatchingAudience { audience: String },
    /// 700213: issuer matched, subject not.
    NoMatchingSubject { subject: String },
    /// 7002138: the subject matches only case-insensitively.
    SubjectCaseMismatch { subject: String },
    /// 70023: the external token lives longer than 25 hours.
    ExternalTokenTooLong { iat: String, exp: String },
    /// 700024: the assertion is not within its validity window.
    AssertionOutsideValidity {
        now: String,
        nbf: String,
        exp: String,
    },
    /// 7000272: the issuer's JWKS does not have the token's `kid`.
    FederatedKeyNotFound { kid: String, issuer: String },
    /// 700027: a certificate assertion that does not verify or whose certificate is not registered.
    ClientAssertionSignatureInvalid { detail: String },
    /// 50027: an assertion that is not a JWT.
    MalformedJwt { detail: String },
    /// 50166: the external issuer's metadata could not be fetched.
    ExternalOidcEndpointFailed { detail: String },
    /// 1002012: a client-credentials scope without `/.default`.
    ScopeNotDefault { scope: String },
    /// 700022 / 70011 family: scopes for more than one resource.
    MultipleResources { scope: String },
    /// 500011: the resource is not in the tenant.
    ResourceNotFound { resource: String, tenant: String },
    /// 901002: `resource` sent to the v2 endpoint.
    ResourceParameterOnV2,
    /// 900144: a required body parameter is missing.
    MissingParameter { name: String },
    /// 90014: `scope` (or v1 `resource`) missing.
    MissingScope { name: String },
    /// 70003 (today 70003/unsupported_grant_type): unknown grant type.
    UnsupportedGrantType { grant_type: String },
    /// 50194: a single-tenant app used on `/common` or `/organizations`.
    SingleTenantAppOnCommon { client_id: String },
    /// 700229/700222: an assertion that Entra itself issued.
    EntraIssuedAssertion,
    /// 50049: instance discovery for an authority Entra does not know.
    UnknownInstance,
    /// 7000112: the application is disabled.
    AppDisabled { client_id: String },
}

impl Aadsts {
    /// The AADSTS number.
    pub fn code(&self) -> u32 {
        use Aadsts::*;
        match self {
            TenantNotFound { .. } => 90002,
            InvalidTenantIdentifier { .. } => 900023,
            AppNotFound { .. } => 700016,
            InvalidClientSecret { .. } => 7000215,
            ExpiredClientSecret { .. } => 7000222,
            MissingClientCredential => 7000218,
            NoFederatedCredentials { .. } => 70025,
            NoMatchingRecordLegacy { .. } => 70021,
            NoMatchingIssuer { .. } => 700211,
            NoMatchingAudience { .. } => 700212,
            NoMatchingSubject { .. } => 700213,
            SubjectCaseMismatch { .. } => 7002138,
            ExternalTokenTooLong { .. } => 70023,
            AssertionOutsideValidity { .. } => 700024,
            FederatedKeyNotFound { .. } => 7000272,
            ClientAssertionSignatureInvalid { .. } => 700027,
            MalformedJwt { .. } => 50027,
            ExternalOidcEndpointFailed { .. } => 50166,
            ScopeNotDefault { .. } => 1002012,
            MultipleResources { .. } => 700022,
            ResourceNotFound { .. } => 500011,
            ResourceParameterOnV2 => 901002,
            MissingParameter { .. } => 900144,
            MissingScope { .. } => 90014,
            UnsupportedGrantType { .. } => 70003,
            SingleTenantAppOnCommon { .. } => 50194,
            EntraIssuedAssertion => 700222,
            UnknownInstance => 50049,
            AppDisabled { .. } => 7000112,
        }
    }

    /// The OAuth `error` value.
    pub fn error(&self) -> &'static str {
        use Aadsts::*;
        match self {
            TenantNotFound { .. } => "invalid_tenant",
            InvalidTenantIdentifier { .. } => "invalid_request",
            AppNotFound { .. } => "unauthorized_client",
            InvalidClientSecret { .. }
            | ExpiredClientSecret { .. }
            | MissingClientCredential
            | NoFederatedCredentials { .. }
            | NoMatchingRecordLegacy { .. }
            | NoMatchingIssuer { .. }
            | NoMatchingAudience { .. }
            | NoMatchingSubject { .. }
            | SubjectCaseMismatch { .. }
            | AssertionOutsideValidity { .. }
            | FederatedKeyNotFound { .. }
            | ClientAssertionSignatureInvalid { .. }
            | EntraIssuedAssertion => "invalid_client",
            ExternalTokenTooLong { .. }
            | MalformedJwt { .. }
            | ExternalOidcEndpointFailed { .. }
            | ResourceParameterOnV2
            | MissingParameter { .. }
            | MissingScope { .. }
            | SingleTenantAppOnCommon { .. } => "invalid_request",
            ScopeNotDefault { .. } | MultipleResources { .. } => "invalid_scope",
            ResourceNotFound { .. } => "invalid_resource",
            UnsupportedGrantType { .. } => "unsupported_grant_type",
            UnknownInstance => "invalid_instance",
            AppDisabled { .. } => "unauthorized_client",
        }
    }

    /// The HTTP status: 401 for `invalid_client`, 400 otherwise.
    pub fn status(&self) -> StatusCode {
        if self.error() == "invalid_client" {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        }
    }

    /// The message after `AADSTS{code}: `.
    pub fn message(&self) -> String {
        use Aadsts::*;
        match self {
            TenantNotFound { segment } => format!(
                "Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are \
                 signing into the correct cloud. Check with your subscription administrator, this may \
                 happen if there are no active subscriptions for the tenant."
            ),
            InvalidTenantIdentifier { segment } => format!(
                "Specified tenant identifier '{segment}' is neither a valid DNS name, nor a valid external domain."
            ),
            AppNotFound { client_id, tenant } => format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This \
                 can happen if the application has not been installed by the administrator of the tenant \
                 or consented to by any user in the tenant. You may have sent your authentication request \
                 to the wrong tenant."
            ),
            InvalidClientSecret { client_id } => format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client \
                 secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
            ExpiredClientSecret { client_id } => format!(
                "The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal \
                 to create new keys for your app."
            ),
            MissingClientCredential => "The request body must contain the following parameter: \
                 'client_assertion' or 'client_secret'."
                .to_owned(),
            NoFederatedCredentials {
                client_id,
                display_name,
            } => format!(
                "The client '{client_id}'({display_name}) has no configured federated identity credentials."
            ),
            NoMatchingRecordLegacy {
                issuer,
                subject,
                audience,
            } => format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: \
                 '{issuer}'. Assertion Subject: '{subject}'. Assertion Audience: '{audience}'. \
                 https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
            ),
            NoMatchingIssuer { issuer } => format!(
                "No matching federated identity record found for presented assertion issuer '{issuer}'. \
                 Please check your federated identity credential Subject, Audience and Issuer against the \
                 presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
            ),
            NoMatchingAudience { audience } => format!(
                "No matching federated identity record found for presented assertion audience '{audience}'. \
                 Please check your federated identity credential Subject, Audience and Issuer against the \
                 presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
            ),
            NoMatchingSubject { subject } => format!(
                "No matching federated identity record found for presented assertion subject '{subject}'. \
                 Check your federated identity credential Subject, Audience and Issuer against the \
                 presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
            ),
            SubjectCaseMismatch { subject } => format!(
                "No matching federated identity record found for presented assertion subject '{subject}'. \
                 The subject matches with case-insensitive comparison, but not with case-sensitive \
                 comparison. Please check your federated identity credential Subject, Audience and Issuer \
                 against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
            ),
            ExternalTokenTooLong { iat, exp } => format!(
                "External OIDC Provider token must have a lifetime of less than or equal to 1.01:00:00. \
                 Token issued at {iat}. Token expires on {exp}."
            ),
            AssertionOutsideValidity { now, nbf, exp } => format!(
                "Client assertion is not within its valid time range. Current time: {now}, assertion valid \
                 from {nbf}, expiry time of assertion {exp}. Review the documentation at \
                 https://learn.microsoft.com/entra/identity-platform/certificate-credentials ."
            ),
            FederatedKeyNotFound { kid, issuer } => format!(
                "The certificate with identifier {kid} used to sign the federated credential could not be \
                 found in the metadata of identity provider {issuer}. Please validate that your Identity \
                 Provider's metadata exposes the key used to sign the incoming token."
            ),
            ClientAssertionSignatureInvalid { detail } => {
                format!("Client assertion failed signature validation. {detail}")
            }
            MalformedJwt { detail } => format!("JWT token is invalid or malformed. {detail}"),
            ExternalOidcEndpointFailed { detail } => {
                format!("Request to External OIDC endpoint failed. {detail}")
            }
            ScopeNotDefault { scope } => format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a \
                 scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
            MultipleResources { scope } => format!(
                "The provided value for the input parameter 'scope' is not valid because it contains more \
                 than one resource. The scope {scope} is not valid."
            ),
            ResourceNotFound { resource, tenant } => format!(
                "The resource principal named {resource} was not found in the tenant named {tenant}. This can \
                 happen if the application has not been installed by the administrator of the tenant or \
                 consented to by any user in the tenant. You might have sent your authentication request \
                 to the wrong tenant."
            ),
            ResourceParameterOnV2 => "The 'resource' request parameter isn't supported.".to_owned(),
            MissingParameter { name } => {
                format!("The request body must contain the following parameter: '{name}'.")
            }
            MissingScope { name } => format!(
                "The required field '{name}' is missing from the credential. Ensure that you have all the \
                 necessary parameters for the login request."
            ),
            UnsupportedGrantType { grant_type } => {
                format!("The access grant '{grant_type}' is not supported.")
            }
            SingleTenantAppOnCommon { client_id } => format!(
                "Application '{client_id}' is not configured as a multi-tenant application. Usage of the \
                 /common endpoint is not supported for such applications created after '10/15/2018'. Use \
                 a tenant-specific endpoint or configure the application to be multi-tenant."
            ),
            EntraIssuedAssertion => {
                "AAD-issued tokens may not be used for federated identity flows.".to_owned()
            }
            UnknownInstance => "Unknown or invalid instance.".to_owned(),
            AppDisabled { client_id } => format!("Application '{client_id}' is disabled."),
        }
    }

    /// The full JSON answer at virtual time `now`.
    pub fn to_response(&self, now: Timestamp, correlation_id: Option<&str>) -> Response {
        let trace_id = Uuid::new_v4().to_string();
        let correlation_id = correlation_id
            .filter(|c| Uuid::parse_str(c).is_ok())
            .map(str::to_owned)
            .unwrap_or_else(|| Uuid::new_v4().to_string());
        let timestamp = error_timestamp(now);
        let code = self.code();
        let body = ErrorBody {
            error: self.error(),
            error_description: format!(
                "AADSTS{code}: {} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}",
                self.message()
            ),
            error_codes: vec![code],
            timestamp,
            trace_id,
            correlation_id,
            error_uri: format!("https://login.microsoftonline.com/error?code={code}"),
        };
        let mut resp = (self.status(), Json(body)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        resp
    }
}

#[derive(Serialize)]
struct ErrorBody {
    error: &'static str,
    error_description: String,
    error_codes: Vec<u32>,
    timestamp: String,
    trace_id: String,
    correlation_id: String,
    error_uri: String,
}

/// `YYYY-MM-DD HH:MM:SSZ`, as Entra's `timestamp` member.
pub fn error_timestamp(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// `2024-06-04T11:40:28.3451933Z`: the 7-digit ISO form Entra puts inside descriptions.
pub fn description_time(t: Timestamp) -> String {
    let nanos = t.subsec_nanosecond();
    format!("{}.{:07}Z", t.strftime("%Y-%m-%dT%H:%M:%S"), nanos / 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn error_body_has_the_exact_shape() {
        let now: Timestamp = "2026-11-29T18:00:05.123Z".parse().unwrap();
        let corr = "0f2d8f4e-7a4c-4b8e-9b1a-2d3c4e5f6a7b";
        let resp = Aadsts::NoMatchingIssuer {
            issuer: "https://issuer.example/".into(),
        }
        .to_response(now, Some(corr));
        assert_eq!(resp.status(), 401);
        assert_eq!(
            resp.headers()["content-type"],
            "application/json; charset=utf-8"
        );
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"], "invalid_client");
        assert_eq!(v["error_codes"], serde_json::json!([700211]));
        assert_eq!(v["timestamp"], "2026-11-29 18:00:05Z");
        assert_eq!(v["correlation_id"], corr);
        assert_eq!(
            v["error_uri"],
            "https://login.microsoftonline.com/error?code=700211"
        );
        let d = v["error_description"].as_str().unwrap();
        assert!(d.starts_with(
            "AADSTS700211: No matching federated identity record found for presented assertion issuer 'https://issuer.example/'."
        ));
        let trace = v["trace_id"].as_str().unwrap();
        assert!(d.ends_with(&format!(
            " Trace ID: {trace} Correlation ID: {corr} Timestamp: 2026-11-29 18:00:05Z"
        )));
    }

    #[test]
    fn statuses_follow_the_error_value() {
        assert_eq!(Aadsts::MissingClientCredential.status(), 401);
        assert_eq!(
            Aadsts::TenantNotFound {
                segment: "v2.0".into()
            }
            .status(),
            400
        );
        assert_eq!(
            Aadsts::ScopeNotDefault {
                scope: "openid".into()
            }
            .error(),
            "invalid_scope"
        );
    }

    #[test]
    fn description_times_have_seven_fraction_digits() {
        let t: Timestamp = "2024-06-04T11:40:28.3451933Z".parse().unwrap();
        assert_eq!(description_time(t), "2024-06-04T11:40:28.3451933Z");
        assert_eq!(
            description_time(Timestamp::UNIX_EPOCH),
            "1970-01-01T00:00:00.0000000Z"
        );
    }
}
