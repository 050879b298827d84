"""Drives the real, unmodified Python `kubernetes` client against an embedded cluster.

argv[1] is the case; the kubeconfig comes from KUBECONFIG, inputs from CREDSIM_* variables.
Prints one JSON object (an "error" key on failure).
"""
import json
import os
import sys


def env(name):
    return os.environ["CREDSIM_" + name]


def token_request():
    from kubernetes import client, config

    config.load_kube_config(config_file=os.environ["KUBECONFIG"])
    body = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[env("AUDIENCE")], expiration_seconds=int(env("SECONDS")))
    )
    resp = client.CoreV1Api().create_namespaced_service_account_token(
        env("SERVICE_ACCOUNT"), env("NAMESPACE"), body
    )
    return {"token": resp.status.token, "expirationTimestamp": resp.status.expiration_timestamp.strftime("%Y-%m-%dT%H:%M:%SZ")}


CASES = {"token-request": token_request}

if __name__ == "__main__":
    try:
        out = CASES[sys.argv[1]]()
    except Exception as e:  # the test asserts on the type and message
        out = {"error": type(e).__name__, "message": str(e)}
    print(json.dumps(out))
