"""Drives the real, unmodified Python clients against mock-entra through the front door.

The case comes from argv[1]; its inputs from CREDSIM_* variables; the standard variables
(HTTPS_PROXY, REQUESTS_CA_BUNDLE, SSL_CERT_FILE, AZURE_*) come from the test. Prints one JSON object:
{"token": ..., "claims": {...}, "expires_on": ...} or {"error": "<type>", "message": "..."}.
"""
import base64
import json
import os
import sys


def claims_of(token):
    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))


def env(name):
    return os.environ["CREDSIM_" + name]


def azure_identity_token(credential):
    token = credential.get_token(env("SCOPE"))
    return {"token": token.token, "claims": claims_of(token.token), "expires_on": token.expires_on}


def main(case):
    from azure.identity import (
        CertificateCredential,
        ClientAssertionCredential,
        ClientSecretCredential,
        ManagedIdentityCredential,
        WorkloadIdentityCredential,
    )
    import msal

    if case == "client-secret":
        return azure_identity_token(ClientSecretCredential(env("TENANT"), env("CLIENT_ID"), env("SECRET")))
    if case == "certificate":
        return azure_identity_token(CertificateCredential(env("TENANT"), env("CLIENT_ID"), certificate_path=env("CERT_PATH")))
    if case == "client-assertion":
        path = env("TOKEN_FILE")
        return azure_identity_token(
            ClientAssertionCredential(env("TENANT"), env("CLIENT_ID"), func=lambda: open(path).read().strip())
        )
    if case == "workload-identity":
        # Everything from AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE, AZURE_AUTHORITY_HOST.
        return azure_identity_token(WorkloadIdentityCredential())
    if case == "managed-identity":
        client_id = os.environ.get("CREDSIM_CLIENT_ID")
        cred = ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()
        return azure_identity_token(cred)
    if case in ("msal-secret", "msal-direct"):
        app = msal.ConfidentialClientApplication(
            env("CLIENT_ID"), authority=env("AUTHORITY"), client_credential=env("SECRET"),
        )
        result = app.acquire_token_for_client(scopes=[env("SCOPE")])
        if "access_token" not in result:
            return {"error": result.get("error"), "message": result.get("error_description"),
                    "codes": result.get("error_codes")}
        return {"token": result["access_token"], "claims": claims_of(result["access_token"]),
                "expires_in": result["expires_in"]}
    raise SystemExit("unknown case " + case)


if __name__ == "__main__":
    try:
        out = main(sys.argv[1])
    except Exception as e:  # the test asserts on the type and message
        out = {"error": type(e).__name__, "message": str(e)}
    print(json.dumps(out))
