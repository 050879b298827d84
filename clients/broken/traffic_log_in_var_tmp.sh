#!/bin/sh
# A deliberately broken implementation (POSIX shell): runs the implementation named by its
# arguments unchanged, but keeps a "debug log" of everything it answers, base64-encoded and
# wrapped at 76 columns as `base64` writes it, in /var/tmp. Outside the working directory,
# encoded and split across lines: `no-secret-leak` must still see every credential in it.
#
#   traffic_log_in_var_tmp.sh PROGRAM [ARGS...]
log=/var/tmp/credsim-traffic.b64
"$@" | while IFS= read -r line; do
  printf '%s\n' "$line"
  printf '%s\n' "$line" | base64 -w 76 >> "$log"
done
