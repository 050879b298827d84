"""Drives real, unmodified Python registry clients against mock-acr through the front door.

argv[1] is the case; inputs come from CREDSIM_* variables; proxy and CA from the standard
variables. Prints one JSON object (an "error" key on failure).
"""
import json
import os
import sys


def env(name):
    return os.environ["CREDSIM_" + name]


def sdk():
    """azure-containerregistry with an azure-identity credential: this drives the AAD exchange."""
    from azure.containerregistry import ContainerRegistryClient
    from azure.identity import ClientSecretCredential

    credential = ClientSecretCredential(env("TENANT"), env("CLIENT_ID"), env("SECRET"))
    client = ContainerRegistryClient(
        "https://" + env("REGISTRY"), credential, audience="https://containerregistry.azure.net"
    )
    repo = env("REPOSITORY")
    out = {"repositories": list(client.list_repository_names())}
    out["tags"] = [t.name for t in client.list_tag_properties(repo)]
    props = client.get_manifest_properties(repo, env("TAG"))
    out["manifest"] = {
        "digest": props.digest,
        "architecture": getattr(props.architecture, "value", props.architecture),
        "os": getattr(props.operating_system, "value", props.operating_system),
        "tags": list(props.tags or []),
        "size": props.size_in_bytes,
    }
    return out


def sdk_default():
    """azure-containerregistry with DefaultAzureCredential, configured only by the standard
    AZURE_* variables (workload identity: AZURE_CLIENT_ID, AZURE_TENANT_ID,
    AZURE_FEDERATED_TOKEN_FILE): reads one manifest, as a pull starts."""
    from azure.containerregistry import ContainerRegistryClient
    from azure.core.exceptions import HttpResponseError
    from azure.identity import DefaultAzureCredential

    client = ContainerRegistryClient(
        "https://" + env("REGISTRY"),
        DefaultAzureCredential(),
        audience="https://containerregistry.azure.net",
    )
    try:
        props = client.get_manifest_properties(env("REPOSITORY"), env("TAG"))
    except HttpResponseError as e:
        return {"error": type(e).__name__, "status": e.status_code, "message": str(e)[:500]}
    return {"manifest": {"digest": props.digest, "tags": list(props.tags or [])}}


def oras_pull():
    """oras (Python) pulls a Helm chart with the ACR refresh token as the password."""
    import oras.client

    client = oras.client.OrasClient(hostname=env("REGISTRY"))
    client.auth.set_basic_auth(env("USERNAME"), env("PASSWORD"))
    outdir = env("OUTDIR")
    files = client.pull(target=env("TARGET"), outdir=outdir)
    return {"files": [os.path.relpath(f, outdir) for f in files],
            "sizes": [os.path.getsize(f) for f in files]}


def oras_push():
    """oras (Python) pushes a test artifact (one file) with Basic credentials on every request
    (its `basic` backend: its token backend never upgrades a cached pull token to push on a 401)."""
    import oras.client

    client = oras.client.OrasClient(hostname=env("REGISTRY"), auth_backend="basic")
    client.auth.set_basic_auth(env("USERNAME"), env("PASSWORD"))
    path = env("FILE")
    cwd = os.getcwd()
    os.chdir(os.path.dirname(path))
    try:
        resp = client.push(files=[os.path.basename(path)], target=env("TARGET"))
    finally:
        os.chdir(cwd)
    return {"status": resp.status_code}


CASES = {"sdk": sdk, "sdk-default": sdk_default, "oras-pull": oras_pull, "oras-push": oras_push}

if __name__ == "__main__":
    try:
        out = CASES[sys.argv[1]]()
    except Exception as e:  # the test asserts on the type and message
        out = {"error": type(e).__name__, "message": str(e)}
    print(json.dumps(out))
