"""A kubelet image credential provider with service-account tokens (KEP-4412) in Python, built from
the real SDKs: azure-identity's ClientAssertionCredential presents the pod ServiceAccount's token that
the kubelet passes, for the identity its `azure.workload.identity/client-id` annotation names, in the
tenant of its `azure.workload.identity/tenant-id` annotation or install-time `TENANT_ID`; `requests`
exchanges the Entra token at the registry and checks it may pull the image's repository.

Reads a CredentialProviderRequest on stdin and prints a CredentialProviderResponse on stdout whose
`auth` holds the image's registry host only. With no identity it answers with no credentials; a
refusal is exit status 1. Logs go to stderr, never a secret.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from credsim_impl import Refusal, assertion_credential, exchange, is_acr_host, log  # noqa: E402

API_VERSION = "credentialprovider.kubelet.k8s.io/v1"


def repository_of(image):
    """`host/repo/path:tag` or `host/repo@sha256:...` → `repo/path`."""
    rest = image.split("/", 1)[1] if "/" in image else ""
    head, _, last = rest.split("@", 1)[0].rpartition("/")
    last = last.split(":", 1)[0]
    return f"{head}/{last}" if head else last


def respond(auth, cache=True):
    out = {"apiVersion": API_VERSION, "kind": "CredentialProviderResponse", "cacheKeyType": "Image", "auth": auth}
    if cache and auth:
        out["cacheDuration"] = "10m"
    print(json.dumps(out))


def main():
    req = json.loads(sys.stdin.read())
    image = req.get("image", "")
    host = image.split("/", 1)[0].lower()
    annotations = req.get("serviceAccountAnnotations") or {}
    client_id = annotations.get("azure.workload.identity/client-id")
    tenant = annotations.get("azure.workload.identity/tenant-id") or os.environ.get("TENANT_ID")
    token = req.get("serviceAccountToken")
    if not (client_id and tenant and token and is_acr_host(host)):
        log(f"no identity for {image}: answering with no credentials")
        respond({}, cache=False)
        return 0
    credential = assertion_credential(tenant, client_id, token)
    try:
        result, _ = exchange(credential, host, repository_of(image), tenant)
    except Refusal as r:
        log(f"{r.kind}: {r}")
        return 1
    respond({host: {"username": result["username"], "password": result["password"]}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
