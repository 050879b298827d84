"""A Docker credential helper (`docker-credential-<name> get`) in Python, built from the real SDKs:
the same per-project logic as credsim_impl.py (the `kubernetes` client's TokenRequest for the
project's dedicated ServiceAccount, azure-identity's ClientAssertionCredential, the ACR exchange).

The protocol: `get` reads a registry server URL on stdin and prints
{"ServerURL", "Username", "Secret"} on stdout; anything it cannot answer is
"credentials not found in native keychain" with exit status 1. The helper serves one project, named by
install-time `PROJECT` (the protocol cannot say which project a pull is for). Logs go to stderr, never
a secret.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from credsim_impl import Implementation, Refusal, log  # noqa: E402

NOT_FOUND = "credentials not found in native keychain"


def main():
    if sys.argv[1:] != ["get"]:
        log("usage: docker_credential_credsim.py get")
        return 1
    server = sys.stdin.read().strip()
    host = server.split("://", 1)[-1].split("/", 1)[0]
    try:
        credential = Implementation().get(os.environ.get("PROJECT", ""), host, "")
    except Refusal as r:
        log(f"{r.kind}: {r}")
        print(NOT_FOUND)
        return 1
    except Exception as e:  # anything unexpected, with its type only
        log(f"internal: {type(e).__name__}")
        print(NOT_FOUND)
        return 1
    print(json.dumps({"ServerURL": server, "Username": credential["username"], "Secret": credential["password"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
