"""A credential implementation in Python, built only from the real SDKs, speaking credsim's exec
protocol (JSON-RPC 2.0, one message per line on stdin/stdout; logs on stderr, never a secret).

The same per-project design as credsim's reference: the project's dedicated ServiceAccount
(`credentials`, or PROJECT_SERVICE_ACCOUNT) carries the per-shard client-ID annotation
`azure.kargo.akuity.io/<shard>.client-id`; the tenant is install-time TENANT_ID; the `kubernetes`
client requests a 10-minute token for the exchange audience; azure-identity's
ClientAssertionCredential exchanges it at Entra; `requests` exchanges that at the registry and checks
that the result may pull the repository. A cache keyed by project, registry, tenant and client ID
follows the harness's clock, hands an entry out for at most 10 minutes after its exchange (so a
revoked federation stops working within that bound) and never past its expiry. Falls back to the controller's own workload identity
(WorkloadIdentityCredential) only when install-time FALLBACK_TO_CONTROLLER_IDENTITY=on-denial says
so, and only on a denial.
"""
import base64
import json
import os
import sys
import time
from datetime import datetime

EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
ACR_SCOPE = "https://containerregistry.azure.net/.default"
NULL_GUID = "00000000-0000-0000-0000-000000000000"
CACHE_MARGIN = 300
CACHE_TTL = 600


class Refusal(Exception):
    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


def log(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def claims_of(token):
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        return json.loads(base64.urlsafe_b64decode(payload))
    except Exception:  # not a JWT
        return {}


def is_acr_host(host):
    name = host.lower()
    if not name.endswith(".azurecr.io"):
        return False
    label = name[: -len(".azurecr.io")]
    return 5 <= len(label) <= 50 and label.isalnum() and label.isascii()


class Implementation:
    def __init__(self):
        from kubernetes import client, config

        config.load_kube_config(config_file=os.environ["KUBECONFIG"])
        self.core = client.CoreV1Api()
        self.k8s = client
        self.shard = os.environ.get("CREDSIM_SHARD", "")
        self.cache = {}
        self.now = None

    def clock(self):
        return self.now if self.now is not None else time.time()

    def get(self, project, registry, repository):
        from kubernetes.client.rest import ApiException

        host = registry.lower()
        if not is_acr_host(host):
            raise Refusal("unsupported", f"{registry!r} is not an Azure Container Registry host")
        tenant = os.environ.get("TENANT_ID", "")
        if not tenant:
            raise Refusal("not-configured", "no TENANT_ID is configured for this shard")
        sa_name = os.environ.get("PROJECT_SERVICE_ACCOUNT", "credentials")
        try:
            sa = self.core.read_namespaced_service_account(sa_name, project)
        except ApiException as e:
            if e.status == 404:
                raise Refusal("not-configured", f"project {project} has no ServiceAccount {sa_name}")
            raise Refusal("internal", f"the API server answered {e.status}")
        annotation = f"azure.kargo.akuity.io/{self.shard}.client-id"
        client_id = (sa.metadata.annotations or {}).get(annotation)
        if not client_id:
            raise Refusal("not-configured", f"no managed identity is mapped to {project} on {self.shard}")
        key = (project, host, tenant, client_id)
        now = self.clock()
        cached = self.cache.get(key)
        if cached and cached[1] - CACHE_MARGIN > now and cached[2] + CACHE_TTL > now:
            return cached[0]
        body = self.k8s.AuthenticationV1TokenRequest(
            spec=self.k8s.V1TokenRequestSpec(audiences=[EXCHANGE_AUDIENCE], expiration_seconds=600)
        )
        try:
            resp = self.core.create_namespaced_service_account_token(sa_name, project, body)
        except ApiException as e:
            kind = "denied" if e.status == 403 else "internal"
            raise Refusal(kind, f"TokenRequest for {project}/{sa_name} answered {e.status}")
        credential = assertion_credential(tenant, client_id, resp.status.token)
        try:
            result, expires = exchange(credential, host, repository, tenant)
        except Refusal as r:
            if r.kind != "denied" or os.environ.get("FALLBACK_TO_CONTROLLER_IDENTITY") != "on-denial":
                raise
            log(f"{project}'s identity was denied; falling back to the controller's identity as configured")
            from azure.identity import WorkloadIdentityCredential

            # A new credential each time: it reads the (rotated) token file and keeps no cache of
            # its own that would outlive the harness's clock.
            result, expires = exchange(WorkloadIdentityCredential(), host, repository, tenant)
        self.cache[key] = (result, expires or 0, now)
        return result


def assertion_credential(tenant, client_id, assertion):
    """azure-identity's ClientAssertionCredential presenting a ServiceAccount token."""
    from azure.identity import ClientAssertionCredential

    return ClientAssertionCredential(
        tenant,
        client_id,
        func=lambda: assertion,
        authority=os.environ.get("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com/"),
    )


def post(url, data):
    """A form POST; a registry that cannot be reached safely (refused connection, failed TLS
    verification) is `unavailable`."""
    import requests

    try:
        return requests.post(url, data=data, timeout=20)
    except requests.exceptions.ConnectionError as e:  # SSLError is one
        raise Refusal("unavailable", f"{url.split('/')[2]} is unreachable: {type(e).__name__}")


def exchange(credential, host, repository, tenant):
    """Entra token (ACR audience) for `credential` → ACR refresh token; when `repository` is
    known, checked to pull it (a Docker credential helper is not told the repository)."""
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError

    try:
        access_token = credential.get_token(ACR_SCOPE).token
    except ClientAuthenticationError as e:
        text = str(e.message or e).splitlines()[0] if str(e.message or e) else "refused"
        status = getattr(getattr(e, "response", None), "status_code", 400) or 400
        kind = "unavailable" if status == 429 or status >= 500 else "denied"
        raise Refusal(kind, f"Entra refused the exchange: {text}")
    except ServiceRequestError as e:
        raise Refusal("unavailable", f"Entra is unreachable: {e}")
    tid = claims_of(access_token).get("tid", tenant)
    r = post(
        f"https://{host}/oauth2/exchange",
        {"grant_type": "access_token", "service": host, "tenant": tid, "access_token": access_token},
    )
    if r.status_code != 200:
        kind = "unavailable" if r.status_code == 429 or r.status_code >= 500 else "denied"
        raise Refusal(kind, f"{host} refused the exchange ({r.status_code})")
    refresh = r.json()["refresh_token"]
    if repository:
        check = post(
            f"https://{host}/oauth2/token",
            {
                "grant_type": "refresh_token",
                "service": host,
                "scope": f"repository:{repository}:pull",
                "refresh_token": refresh,
            },
        )
        access = claims_of(check.json().get("access_token", "")) if check.status_code == 200 else {}
        pulls = any(
            e.get("name") == repository and "pull" in e.get("actions", []) for e in access.get("access", [])
        )
        if not pulls:
            raise Refusal("denied", f"{host} grants this identity no pull on {repository}")
    expires = claims_of(refresh).get("exp")
    result = {"username": NULL_GUID, "password": refresh}
    if expires:
        result["expiresAt"] = datetime.utcfromtimestamp(expires).strftime("%Y-%m-%dT%H:%M:%SZ")
    return result, expires


def answer(msg_id, result=None, error=None):
    out = {"jsonrpc": "2.0", "id": msg_id}
    if error is not None:
        out["error"] = error
    else:
        out["result"] = result
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


def main():
    impl = None
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        method, msg_id, params = msg.get("method"), msg.get("id"), msg.get("params") or {}
        if method == "shutdown":
            return
        if method == "initialize":
            if 1 not in params.get("protocolVersions", []):
                answer(msg_id, error={"code": -32001, "message": "this implementation speaks version 1"})
                continue
            impl = Implementation()
            answer(msg_id, {"protocolVersion": 1, "implementation": {"name": "credsim-python-sdk", "version": "1"}})
        elif method == "clock/set":
            impl.now = datetime.strptime(params["now"][:19], "%Y-%m-%dT%H:%M:%S").replace(
                tzinfo=__import__("datetime").timezone.utc
            ).timestamp()
            answer(msg_id, {})
        elif method == "credentials/get":
            try:
                answer(msg_id, impl.get(params["project"], params["registry"], params["repository"]))
            except Refusal as r:
                log(f"{r.kind}: {r}")
                answer(msg_id, error={"code": -32000, "message": str(r), "data": {"kind": r.kind}})
            except Exception as e:  # anything unexpected is `internal`, with its type only
                log(f"internal: {type(e).__name__}")
                answer(msg_id, error={"code": -32000, "message": type(e).__name__, "data": {"kind": "internal"}})
        else:
            answer(msg_id, error={"code": -32601, "message": "method not found"})


if __name__ == "__main__":
    main()
