"""Writes and reads a blob in Azurite (`--oauth basic`, HTTPS) with the real, unmodified Storage SDK.

The credential is DefaultAzureCredential() with no arguments: which of its credentials answers
(workload identity, managed identity) comes from the standard variables alone (AZURE_*,
HTTPS_PROXY and NO_PROXY, REQUESTS_CA_BUNDLE or SSL_CERT_FILE). Prints one JSON object:
{"written": ..., "read": ..., "tokenIssuer": ..., "tokenAudience": ...} and exits 0, or
{"error": "<type>", "message": "..."} and exits 1.

  azurite_blob.py --account-url https://127.0.0.1:PORT/devstoreaccount1 --container C --blob B --data TEXT
"""
import argparse
import base64
import json
import sys

STORAGE_SCOPE = "https://storage.azure.com/.default"


def claims_of(token):
    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))


def main(args):
    from azure.core.exceptions import ResourceExistsError
    from azure.identity import DefaultAzureCredential
    from azure.storage.blob import BlobServiceClient

    credential = DefaultAzureCredential()
    service = BlobServiceClient(args.account_url, credential=credential)
    container = service.get_container_client(args.container)
    try:
        container.create_container()
    except ResourceExistsError:
        pass
    blob = container.get_blob_client(args.blob)
    blob.upload_blob(args.data.encode(), overwrite=True)
    read = blob.download_blob().readall().decode()
    # The token the SDK sent, as DefaultAzureCredential caches it: its claims only, unverified.
    claims = claims_of(credential.get_token(STORAGE_SCOPE).token)
    return {"written": args.data, "read": read, "tokenIssuer": claims.get("iss"),
            "tokenAudience": claims.get("aud")}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--account-url", required=True)
    parser.add_argument("--container", required=True)
    parser.add_argument("--blob", required=True)
    parser.add_argument("--data", required=True)
    try:
        out = main(parser.parse_args())
    except Exception as e:  # the test asserts on the type and message
        print(json.dumps({"error": type(e).__name__, "message": str(e)}))
        sys.exit(1)
    print(json.dumps(out))
    sys.exit(0 if out["read"] == out["written"] else 1)
