#!/usr/bin/env node
/**
 * npm run build:prebuild — the prebuilt addon for this platform and architecture:
 * prebuilds/<platform>-<arch>/openssl_session.node, built by prebuildify (--napi --strip)
 * driving cmake-js through scripts/prebuild-shim.cjs, then loaded once to check it.
 *
 * prebuildify MOVES build/Release/*.node into prebuilds/: run this in a clean checkout or a CI
 * job, not in a tree where tests are running. Build on the oldest supported node (20): the
 * addon then calls only OpenSSL 3.0 functions, which every later node exports too.
 * Extra arguments go to prebuildify.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const shim = path.join(__dirname, 'prebuild-shim.cjs');
const env = {
  ...process.env,
  // prebuildify spawns this without a shell on Linux/macOS (the shim is executable, with a
  // shebang) and through cmd.exe on Windows (where a .cjs file is not).
  PREBUILD_NODE_GYP: process.platform === 'win32' ? `"${process.execPath}" "${shim}"` : shim,
};
const prebuildify = require.resolve('prebuildify/bin.js', { paths: [root] });
const args = [prebuildify, '--napi', '--strip', '--name', 'openssl_session', ...process.argv.slice(2)];
const started = Date.now();
const result = spawnSync(process.execPath, args, { cwd: root, env, stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);

const file = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'openssl_session.node');
if (!fs.existsSync(file)) {
  console.error(`build:prebuild: prebuildify finished but ${path.relative(root, file)} is missing`);
  process.exit(1);
}
const check = spawnSync(
  process.execPath,
  ['-e', `const b = require(${JSON.stringify(file)}); if (b.openSSLVersion() !== process.versions.openssl) process.exit(3);`],
  { stdio: 'inherit' },
);
if (check.status !== 0) {
  console.error(`build:prebuild: ${path.relative(root, file)} does not load in this node`);
  process.exit(1);
}
const kib = Math.round(fs.statSync(file).size / 1024);
console.log(`build:prebuild: ${path.relative(root, file)} (${kib} KiB, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
