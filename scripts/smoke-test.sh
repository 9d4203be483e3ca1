#!/usr/bin/env bash
# npm run test:package — the published package, as a user gets it.
#
# Packs the tarball (npm pack) from a staged copy of this checkout (never touching its build/
# or prebuilds/), installs it into a fresh temp project with npm (registry only), and checks:
#   - the install script's decision (prebuilt addon, or a source build) and which .node loads
#   - ESM `import` and CJS `require` both work and give the very same classes
#   - `npx openssl-session demo` prints NEW SESSION then REUSED SESSION x4
#   - `tsc` type-checks a small consumer, once as ESM (.mts) and once as CommonJS (.cts)
#
# Modes (argument; default: both):
#   prebuild  the tarball carries prebuilds/<platform>-<arch>/ (built here with prebuildify, or
#             taken from $SMOKE_PREBUILDS), and everything after `npm pack` runs with a PATH
#             from which cmake, make, ninja, every C/C++ compiler, linker and python are
#             removed: it must not need them.
#   source    the tarball has no prebuild: the install must build the addon with cmake-js.
#
# Environment: SMOKE_PREBUILDS=dir  use this prebuilds/ directory (e.g. CI artifacts) instead
#              of building one; SMOKE_KEEP=1 keep the temp directory; TMPDIR as usual.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
modes=("${@:-both}")
[[ "${modes[0]}" == both ]] && modes=(prebuild source)
for m in "${modes[@]}"; do
  [[ "$m" == prebuild || "$m" == source ]] || { echo "usage: $0 [prebuild|source|both]" >&2; exit 2; }
done

work="$(mktemp -d "${TMPDIR:-/tmp}/openssl-session-smoke.XXXXXX")"
cleanup() { if [[ "${SMOKE_KEEP:-}" == 1 ]]; then echo "smoke: kept $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT

t0=$(date +%s.%N)
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
step() { echo; echo "=== smoke: $* ($(elapsed "$t0") s)"; }
fail() { echo "smoke: FAIL: $*" >&2; exit 1; }
platform_arch="$(node -p 'process.platform + "-" + process.arch')"
quiet_npm=(--no-audit --no-fund --loglevel=error)

# --- a PATH without build tools: every command of $PATH except these ---------------------------
build_tools='^(xcrun|xcodebuild|cmake|ctest|cpack|ccmake|make|gmake|ninja|cc|c\+\+|cpp|gcc|g\+\+|clang|clang\+\+|clang-[0-9]+|ld|ld\..*|gold|as|.*-(gcc|g\+\+|c\+\+|cpp|ld|as)(-[0-9.]+)?|gcc-[0-9.]+|g\+\+-[0-9.]+|cpp-[0-9.]+|python|python[0-9.]*|node-gyp)$'
nobuild_path() {
  local farm="$work/path-without-build-tools"
  if [[ ! -d "$farm" ]]; then
    mkdir -p "$farm"
    local dir f name
    IFS=: read -r -a dirs <<<"$PATH"
    for dir in "${dirs[@]}"; do
      [[ -d "$dir" ]] || continue
      for f in "$dir"/*; do
        name="${f##*/}"
        [[ -x "$f" && ! -d "$f" && ! -e "$farm/$name" ]] || continue
        [[ "$name" =~ $build_tools ]] && continue
        ln -s "$f" "$farm/$name"
      done
    done
  fi
  echo "$farm"
}

# --- stage a copy of the package and pack it --------------------------------------------------
step "staging $root"
stage="$work/package"
mkdir -p "$stage"
(cd "$root" && tar cf - package.json package-lock.json tsconfig.json tsconfig.build.json tsconfig.cjs.json \
  CMakeLists.txt README.md lib native scripts $(ls CHANGELOG.md 2>/dev/null)) | (cd "$stage" && tar xf -)
ln -s "$root/node_modules" "$stage/node_modules" # the dev tools (tsc, cmake-js, prebuildify)

pack() { # pack <name>: npm pack in $stage -> $work/<name>.tgz
  local json
  json="$(cd "$stage" && npm pack --json --pack-destination "$work" "${quiet_npm[@]}" "${@:2}")"
  local file
  file="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(0, "utf8"))[0].filename)' <<<"$json")"
  mv "$work/$file" "$work/$1.tgz"
  echo "$work/$1.tgz: $(du -k "$work/$1.tgz" | cut -f1) KiB, $(tar tzf "$work/$1.tgz" | wc -l) files"
}

built_dist=0
for mode in "${modes[@]}"; do
  if [[ "$mode" == prebuild ]]; then
    if [[ -n "${SMOKE_PREBUILDS:-}" ]]; then
      step "prebuilds from $SMOKE_PREBUILDS"
      cp -R "$SMOKE_PREBUILDS" "$stage/prebuilds"
    else
      step "prebuildify (npm run build:prebuild) in the staged copy"
      (cd "$stage" && node scripts/prebuild.cjs)
    fi
    [[ -f "$stage/prebuilds/$platform_arch/openssl_session.node" ]] || fail "no prebuilds/$platform_arch/openssl_session.node"
    step "npm pack (with prebuilds/)"
  else
    rm -rf "$stage/prebuilds" "$stage/build"
    step "npm pack (no prebuilds/)"
  fi
  # `prepare` (tsc: dist/, dist/cjs/, dist/esm/) runs with the first pack only.
  if ((built_dist)); then pack "$mode" --ignore-scripts; else pack "$mode"; built_dist=1; fi
  listing="$(tar tzf "$work/$mode.tgz")"
  for f in package/dist/esm/index.js package/dist/esm/index.d.ts package/dist/cjs/index.js package/dist/cjs/index.d.ts \
    package/dist/cjs/package.json package/dist/cjs/cli/index.js package/dist/index.d.ts package/CMakeLists.txt \
    package/native/addon.cc package/scripts/install.cjs package/lib/index.ts; do
    grep -qx "$f" <<<"$listing" || fail "$mode.tgz lacks $f"
  done
  if [[ "$mode" == prebuild ]]; then
    grep -qx "package/prebuilds/$platform_arch/openssl_session.node" <<<"$listing" || fail "prebuild.tgz lacks the prebuild"
  else
    ! grep -q '^package/prebuilds/' <<<"$listing" || fail "source.tgz carries prebuilds"
  fi
  ! grep -Eq '^package/(test|bench|fuzz|build|node_modules|examples)/' <<<"$listing" || fail "$mode.tgz carries dev files"
done

# --- the consumer project ---------------------------------------------------------------------
write_consumer() {
  local app="$1"
  mkdir -p "$app"
  cat >"$app/package.json" <<'JSON'
{ "name": "smoke-consumer", "version": "1.0.0", "private": true }
JSON
  cat >"$app/resume.cjs" <<'JS'
// Shared by both entry points: a TLS 1.2 full handshake in memory, then a resumption.
module.exports = function resume(oss) {
  const { cert, key } = oss.createSelfSigned({ commonName: 'localhost' });
  const server = new oss.SslContext('server', { cert, key, sessionIdContext: 'smoke', maxVersion: 'TLSv1.2' });
  const client = new oss.SslContext('client', { maxVersion: 'TLSv1.2' });
  const reused = [];
  let session = null;
  for (let i = 0; i < 2; i++) {
    const c = new oss.SslConnection(client);
    const s = new oss.SslConnection(server);
    if (session) c.setSession(session);
    oss.handshakeInMemory(c, s);
    reused.push(c.sessionReused());
    session?.dispose();
    session = c.get1Session();
    oss.shutdownInMemory(c, s);
    c.free();
    s.free();
  }
  session.dispose();
  if (reused.join() !== 'false,true') throw new Error(`expected a full handshake then a resumption, got ${reused}`);
};
JS
  cat >"$app/esm.mjs" <<'JS'
import { createRequire } from 'node:module';
import * as oss from 'openssl-session';
import { SslSession, openSSLVersion } from 'openssl-session';

const require = createRequire(import.meta.url);
if (openSSLVersion() !== process.versions.openssl) throw new Error(`addon reports OpenSSL ${openSSLVersion()}`);
require('./resume.cjs')(oss);
const cjs = require('openssl-session');
const esmNames = Object.keys(oss).sort().join();
const cjsNames = Object.keys(cjs).filter((k) => k !== '__esModule').sort().join();
if (esmNames !== cjsNames) throw new Error(`ESM exports differ from CJS:\n${esmNames}\n${cjsNames}`);
if (cjs.SslSession !== SslSession) throw new Error('import and require gave different SslSession classes');
const addon = Object.keys(require.cache).filter((k) => k.endsWith('.node'));
console.log(`esm: ok (${Object.keys(oss).length} exports, OpenSSL ${openSSLVersion()}, addon ${addon.join(', ')})`);
JS
  cat >"$app/cjs.cjs" <<'JS'
const oss = require('openssl-session');
if (oss.openSSLVersion() !== process.versions.openssl) throw new Error(`addon reports OpenSSL ${oss.openSSLVersion()}`);
require('./resume.cjs')(oss);
let threw = null;
try {
  oss.SslSession.fromDER(Buffer.from('not a session'));
} catch (error) {
  threw = error;
}
if (!(threw instanceof oss.OpenSSLError)) throw new Error(`fromDER(garbage) did not throw an OpenSSLError: ${threw}`);
const addon = Object.keys(require.cache).filter((k) => k.endsWith('.node'));
console.log(`cjs: ok (${Object.keys(oss).length} exports, ${threw.code} for garbage DER, addon ${addon.join(', ')})`);
JS
  cat >"$app/consumer.mts" <<'TS'
import { SslContext, SslConnection, SslSession, handshakeInMemory, type SessionInfo, OpenSSLError } from 'openssl-session';

const context: SslContext = new SslContext('client', { maxVersion: 'TLSv1.3', sessionCacheMode: 0 });
const connection = new SslConnection(context);
const session: SslSession | null = connection.get1Session();
const info: SessionInfo | undefined = session?.describe();
export const checks = [handshakeInMemory.length, info?.protocol, OpenSSLError.name] as const;
// @ts-expect-error the role is 'client' | 'server'
new SslContext('proxy');
TS
  cat >"$app/consumer.cts" <<'TS'
import oss = require('openssl-session');

const ctx: oss.SslContext = new oss.SslContext('server');
export const reused: boolean = new oss.SslConnection(ctx).sessionReused();
// @ts-expect-error setSession takes an SslSession or null
new oss.SslConnection(ctx).setSession('not a session');
TS
  cat >"$app/tsconfig.json" <<'JSON'
{
  "compilerOptions": {
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "target": "ES2022",
    "lib": ["ES2023", "esnext.disposable"],
    "strict": true,
    "noEmit": true,
    "types": ["node"]
  },
  "files": ["consumer.mts", "consumer.cts"]
}
JSON
}

typescript_version="$(node -p "require('$root/node_modules/typescript/package.json').version")"

for mode in "${modes[@]}"; do
  app="$work/app-$mode"
  write_consumer "$app"
  run_path="$PATH"
  if [[ "$mode" == prebuild ]]; then
    run_path="$(nobuild_path)"
    if PATH="$run_path" command -v cmake >/dev/null 2>&1 || PATH="$run_path" command -v c++ >/dev/null 2>&1; then
      fail "cmake or c++ still on the restricted PATH"
    fi
    echo "smoke: PATH for the prebuild run has no cmake, make, compilers, linkers or python ($(ls "$run_path" | wc -l) commands kept)"
  fi

  step "[$mode] npm install <tarball> typescript@$typescript_version @types/node@20 (fresh project)"
  t_install=$(date +%s.%N)
  (cd "$app" && PATH="$run_path" npm install "${quiet_npm[@]}" --foreground-scripts \
    "$work/$mode.tgz" "typescript@$typescript_version" "@types/node@20") >"$app/install.log" 2>&1 ||
    { cat "$app/install.log"; fail "[$mode] npm install failed"; }
  grep '^openssl-session:' "$app/install.log" || true
  echo "smoke: [$mode] install took $(elapsed "$t_install") s"
  installed="$app/node_modules/openssl-session"
  if [[ "$mode" == prebuild ]]; then
    grep -q "using the prebuilt addon prebuilds/$platform_arch/openssl_session.node" "$app/install.log" ||
      fail "[prebuild] the install script did not take the prebuild"
    [[ ! -e "$installed/build" ]] || fail "[prebuild] something was built: $installed/build exists"
    expect_addon="$installed/prebuilds/$platform_arch/openssl_session.node"
  else
    grep -q "no prebuilt addon for $platform_arch; building from source" "$app/install.log" ||
      fail "[source] the install script did not announce a source build"
    [[ -f "$installed/build/Release/openssl_session.node" ]] || fail "[source] no build/Release/openssl_session.node"
    expect_addon="$installed/build/Release/openssl_session.node"
  fi

  step "[$mode] ESM import"
  out="$(cd "$app" && PATH="$run_path" node esm.mjs)" || fail "[$mode] ESM import"
  echo "$out"
  grep -qF "addon $(realpath "$expect_addon")" <<<"$out" || grep -qF "addon $expect_addon" <<<"$out" ||
    fail "[$mode] loaded another addon than $expect_addon"

  step "[$mode] CJS require"
  (cd "$app" && PATH="$run_path" node cjs.cjs) || fail "[$mode] CJS require"

  step "[$mode] npx openssl-session demo"
  demo="$(cd "$app" && PATH="$run_path" npx --no-install openssl-session demo)" || { echo "$demo"; fail "[$mode] demo exited non-zero"; }
  echo "$demo"
  sessions="$(grep -E '^(NEW|REUSED) SESSION$' <<<"$demo" | tr '\n' ' ')"
  [[ "$sessions" == "NEW SESSION REUSED SESSION REUSED SESSION REUSED SESSION REUSED SESSION " ]] ||
    fail "[$mode] demo printed: $sessions"

  step "[$mode] tsc type check of consumer.mts (ESM) and consumer.cts (CommonJS)"
  (cd "$app" && PATH="$run_path" npx --no-install tsc -p .) || fail "[$mode] tsc"
  echo "tsc: ok"
done

step "PASS (${modes[*]})"
