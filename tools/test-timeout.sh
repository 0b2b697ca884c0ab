#!/bin/sh
# test-timeout.sh SECONDS PROGRAM [ARGS]: run a test under a time limit
# (0: none).  A test still running after SECONDS gets SIGTERM, then SIGKILL
# 10 s later, and fails with a line that says so.
limit=$1
shift
[ "$limit" -gt 0 ] 2>/dev/null && command -v timeout >/dev/null 2>&1 || exec "$@"
timeout -k 10 "$limit" "$@"
status=$?
[ $status -eq 124 ] || [ $status -eq 137 ] && echo "test-timeout.sh: $1 did not finish in $limit s" >&2
exit $status
