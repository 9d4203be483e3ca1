#!/usr/bin/env node
/**
 * The package's `install` script. Uses the prebuilt addon when one for this platform and
 * architecture loads in this node (no compiler, no CMake); otherwise builds from source with
 * cmake-js. Prints which it did.
 *
 * Force a source build: OPENSSL_SESSION_BUILD_FROM_SOURCE=1 npm install, or
 * npm install --build-from-source (npm_config_build_from_source, as prebuild-install reads it).
 *
 * npm (7 and later) shows a dependency's install output only when the script fails or with
 * --foreground-scripts; the message goes to stderr so that it shows there.
 *
 * `node scripts/install.cjs --dry-run` prints the decision and builds nothing (for tests).
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const platformArch = `${process.platform}-${process.arch}`;
const prebuild = path.join(root, 'prebuilds', platformArch, 'openssl_session.node');
const say = (line) => process.stderr.write(`openssl-session: ${line}\n`);
const dryRun = process.argv.includes('--dry-run');
const truthy = (value) => value !== undefined && /^(1|true|yes)$/i.test(value);

/** Loads `file` in a child node (a failing dlopen must not take this process down). Returns why not, or null. */
function whyNotLoadable(file) {
  const probe =
    `const b = require(${JSON.stringify(file)});` +
    `if (b.openSSLVersion() !== process.versions.openssl) { console.error('reports OpenSSL ' + b.openSSLVersion()); process.exit(3); }`;
  const result = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8' });
  if (result.status === 0) return null;
  const detail = `${result.stderr || ''}`.split('\n').find((l) => /error|cannot|undefined|OpenSSL/i.test(l));
  return (detail || `exit code ${result.status}`).trim();
}

function buildFromSource(reason) {
  say(`${reason}; building from source with cmake-js (needs CMake >= 3.15 and a C++17 compiler)...`);
  if (dryRun) return;
  let cmakeJs;
  try {
    cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  } catch {
    say('cmake-js is not installed (it is a dependency of this package: reinstall it)');
    process.exit(1);
  }
  const started = Date.now();
  const result = spawnSync(process.execPath, [cmakeJs, 'compile', '--log-level', 'warn'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    say(
      `the source build failed (exit code ${result.status}). Install CMake (>= 3.15) and a C++17 ` +
        `compiler (Debian/Ubuntu: apt-get install cmake g++ make; macOS: xcode-select --install && brew install cmake), ` +
        `then run: npm rebuild openssl-session`,
    );
    process.exit(result.status ?? 1);
  }
  say(`built build/Release/openssl_session.node from source in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (truthy(process.env.OPENSSL_SESSION_BUILD_FROM_SOURCE) || truthy(process.env.npm_config_build_from_source)) {
  buildFromSource('a source build was requested');
} else if (!fs.existsSync(prebuild)) {
  buildFromSource(`no prebuilt addon for ${platformArch}`);
} else {
  const why = whyNotLoadable(prebuild);
  if (why === null) {
    say(`using the prebuilt addon prebuilds/${platformArch}/openssl_session.node (no compiler needed)`);
  } else {
    buildFromSource(`the prebuilt addon for ${platformArch} does not load in node ${process.version} (${why})`);
  }
}
