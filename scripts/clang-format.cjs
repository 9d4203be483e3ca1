#!/usr/bin/env node
/**
 * npm run format:check (clang-format --dry-run -Werror) / npm run format (clang-format -i) over
 * native/*.{cc,h}, except any file listed in .clang-format-ignore (none today). The binary is the
 * pinned `clang-format` npm package's (LLVM 15); CLANG_FORMAT=/path/to/clang-format overrides it.
 *
 * Usage: node scripts/clang-format.cjs --check | --write
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const mode = process.argv[2];
if (mode !== '--check' && mode !== '--write') {
  console.error('usage: node scripts/clang-format.cjs --check | --write');
  process.exit(2);
}

const ignoreFile = path.join(root, '.clang-format-ignore');
const ignored = new Set(
  fs.existsSync(ignoreFile)
    ? fs
        .readFileSync(ignoreFile, 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'))
    : [],
);
const files = fs
  .readdirSync(path.join(root, 'native'))
  .filter((f) => /\.(cc|h)$/.test(f))
  .map((f) => `native/${f}`)
  .filter((f) => !ignored.has(f))
  .sort();

const binary = process.env.CLANG_FORMAT || require('clang-format').getNativeBinary();
const args = mode === '--check' ? ['--dry-run', '-Werror', ...files] : ['-i', ...files];
const result = spawnSync(binary, args, { cwd: root, stdio: 'inherit' });
if (result.error) {
  console.error(`clang-format: cannot run ${binary}: ${result.error.message}`);
  process.exit(2);
}
if (result.status === 0) {
  console.log(
    `clang-format: ${files.length} files ${mode === '--check' ? 'formatted' : 'written'} (${ignored.size} skipped, see .clang-format-ignore)`,
  );
}
process.exit(result.status ?? 1);
