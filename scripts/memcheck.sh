#!/usr/bin/env bash
# npm run test:memcheck — the addon's native paths under valgrind memcheck.
#
# Runs test/memcheck/driver.cjs (in-memory TLS 1.2/1.3 handshakes with resumption,
# get1Session/setSession, DER/PEM round trips and garbage input, sessions/connections/
# contexts released in every order, session callbacks, a worker thread, GC) on node under
# `valgrind --leak-check=full`, then scripts/memcheck-report.cjs decides: exit 1 on any
# invalid access or definitely/indirectly lost block whose stack goes through
# openssl_session.node (or any invalid read/write/free at all), or if the driver failed.
# node's own noise is suppressed in test/memcheck/node.supp (each entry explained there).
#
# Environment:
#   OPENSSL_SESSION_ADDON  addon to check (default build/Release/openssl_session.node)
#   MEMCHECK_OUT           keep valgrind's XML/log here (default: a temp dir, removed on success)
#   NODE                   node binary (default: node on PATH)
#
# Node flags: --jitless keeps V8 from generating machine code at run time (valgrind would
# otherwise need --smc-check=all and run several times slower); --expose-gc lets the driver
# force finalizers. Takes ~50 s on 2 cores (the same driver runs in ~1 s without valgrind).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
addon="${OPENSSL_SESSION_ADDON:-$root/build/Release/openssl_session.node}"
node_bin="${NODE:-$(command -v node)}"

if ! command -v valgrind >/dev/null 2>&1; then
  echo "memcheck: valgrind is not installed (Debian/Ubuntu: apt-get install -y valgrind)" >&2
  exit 2
fi
if [[ ! -f "$addon" ]]; then
  echo "memcheck: no addon at $addon (build it: npx cmake-js compile)" >&2
  exit 2
fi

keep_out=1
out="${MEMCHECK_OUT:-}"
if [[ -z "$out" ]]; then
  out="$(mktemp -d "${TMPDIR:-/tmp}/openssl-session-memcheck.XXXXXX")"
  keep_out=0
fi
mkdir -p "$out"

echo "memcheck: valgrind $(valgrind --version | sed 's/^valgrind-//') on node $("$node_bin" --version), addon $addon"
start=$(date +%s)
set +e
OPENSSL_SESSION_ADDON="$addon" valgrind \
  --tool=memcheck \
  --leak-check=full \
  --show-leak-kinds=definite,indirect,possible \
  --errors-for-leak-kinds=definite,indirect \
  --num-callers=64 \
  --suppressions="$root/test/memcheck/node.supp" \
  --xml=yes --xml-file="$out/memcheck.xml" \
  --log-file="$out/valgrind.log" \
  "$node_bin" --jitless --expose-gc "$root/test/memcheck/driver.cjs" >"$out/driver.log" 2>&1
driver_exit=$?
set -e
seconds=$(($(date +%s) - start))
grep -v '^Warning: disabling flag --expose_wasm' "$out/driver.log" || true

set +e
node "$root/scripts/memcheck-report.cjs" "$out/memcheck.xml" "$driver_exit" "$out/driver.log" "$seconds"
verdict=$?
set -e
if [[ $verdict -ne 0 ]]; then
  echo "memcheck: valgrind output kept in $out" >&2
elif [[ $keep_out -eq 0 ]]; then
  rm -rf "$out"
fi
exit "$verdict"
