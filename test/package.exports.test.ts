/**
 * The package as npm publishes it (fast checks; `npm run test:package` installs the real
 * tarball): the exports map points at files the build makes, `import` and `require` give the
 * same implementation, and `npm pack` carries what a user needs and nothing of the repo's.
 * Needs dist/ (npm ci runs `prepare`; or `npm run build:ts`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { packageRoot } from '../lib/native.js';

interface Manifest {
  main: string;
  types: string;
  bin: Record<string, string>;
  files: string[];
  exports: Record<string, string | Record<string, Record<string, string>>>;
  scripts: Record<string, string>;
}

const manifest = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as Manifest;
const built = existsSync(join(packageRoot, 'dist', 'cjs', 'index.js')) && existsSync(join(packageRoot, 'dist', 'esm', 'index.js'));

describe('package.json', () => {
  it('maps import and require to ESM and CommonJS entry points, each with its types', () => {
    const root = manifest.exports['.'] as Record<string, Record<string, string>>;
    expect(Object.keys(root)).toEqual(['import', 'require']);
    expect(Object.keys(root.import!)[0]).toBe('types'); // "types" must come first in each condition
    expect(Object.keys(root.require!)[0]).toBe('types');
    expect(root.import).toEqual({ types: './dist/esm/index.d.ts', default: './dist/esm/index.js' });
    expect(root.require).toEqual({ types: './dist/cjs/index.d.ts', default: './dist/cjs/index.js' });
    expect(manifest.main).toBe(root.require!.default);
    expect(manifest.types).toBe(root.require!.types);
    expect(manifest.bin['openssl-session']).toBe('./dist/cjs/cli/index.js');
    expect(manifest.scripts.install).toBe('node scripts/install.cjs');
  });

  it.runIf(built)('points only at files the build made', () => {
    const root = manifest.exports['.'] as Record<string, Record<string, string>>;
    const targets = [
      ...Object.values(root.import!),
      ...Object.values(root.require!),
      manifest.main,
      manifest.types,
      ...Object.values(manifest.bin),
    ];
    for (const target of targets) expect(existsSync(join(packageRoot, target)), target).toBe(true);
    expect(readFileSync(join(packageRoot, manifest.bin['openssl-session']!), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
    expect(JSON.parse(readFileSync(join(packageRoot, 'dist', 'cjs', 'package.json'), 'utf8'))).toEqual({ type: 'commonjs' });
  });
});

describe.runIf(built)('dist: one implementation behind import and require', () => {
  it('gives the same names and the very same classes both ways, and no import.meta in CommonJS', () => {
    // In a child: loading dist/cjs here would register its classes with the addon this worker uses.
    const script = `
      import { createRequire } from 'node:module';
      const esm = await import(${JSON.stringify(join(packageRoot, 'dist', 'esm', 'index.js'))});
      const cjs = createRequire(import.meta.url)(${JSON.stringify(join(packageRoot, 'dist', 'cjs', 'index.js'))});
      const names = (o) => Object.keys(o).filter((k) => k !== '__esModule' && k !== 'default').sort();
      console.log(JSON.stringify({
        esm: names(esm), cjs: names(cjs),
        same: names(esm).every((k) => esm[k] === cjs[k]),
        version: esm.openSSLVersion(),
      }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as { esm: string[]; cjs: string[]; same: boolean; version: string };
    expect(got.esm).toEqual(got.cjs);
    expect(got.esm).toEqual(expect.arrayContaining(['SslContext', 'SslConnection', 'SslSession', 'OpenSSLError', 'lab']));
    expect(got.same).toBe(true);
    expect(got.version).toBe(process.versions.openssl);
  });

  it('the CommonJS CLI runs', () => {
    const out = execFileSync(process.execPath, [join(packageRoot, 'dist', 'cjs', 'cli', 'index.js'), '--help'], { encoding: 'utf8' });
    expect(out).toMatch(/usage: openssl-session <command>/);
  });
});

describe.runIf(built)('npm pack', () => {
  it('carries dist (ESM + CJS + types), lib, native sources, CMakeLists.txt and the install script; no repo-only files', () => {
    const json = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', '--loglevel=error'], {
      cwd: packageRoot,
      encoding: 'utf8',
    });
    const files = (JSON.parse(json) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    for (const required of [
      'package.json',
      'README.md',
      'CMakeLists.txt',
      'scripts/install.cjs',
      'dist/esm/index.js',
      'dist/esm/index.d.ts',
      'dist/index.d.ts',
      'dist/cjs/index.js',
      'dist/cjs/index.d.ts',
      'dist/cjs/package.json',
      'dist/cjs/cli/index.js',
      'dist/cjs/native.js',
      'lib/index.ts',
      'native/addon.cc',
      'native/ssl_session.h',
    ]) {
      expect(files, required).toContain(required);
    }
    // The ESM build's JavaScript (dist/*.js) is for the repo's own CLI and tests; the package runs dist/cjs.
    expect(files.filter((f) => /^dist\/[^/]+\.js$/.test(f))).toEqual([]);
    expect(files.filter((f) => /^(test|bench|fuzz|build|examples|node_modules|\.github|\.ci)\//.test(f))).toEqual([]);
    expect(files.filter((f) => /^scripts\//.test(f))).toEqual(['scripts/install.cjs']);
  });
});
