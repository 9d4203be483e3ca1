/**
 * lib/native.ts as the loader of an installed package: prebuilds/<platform>-<arch>/ first, then
 * build/Release; a prebuild that exists but cannot load falls through to a source build; with
 * neither, one error naming both places and the fix. Each case lays out a throwaway package
 * (package.json named openssl-session + lib/native.ts + node_modules linked to ours) and loads it
 * in a child node through tsx, so the addon copies never share this process.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { addonPath, packageRoot } from '../lib/native.js';

const platformArch = `${process.platform}-${process.arch}`;
const dirs: string[] = [];

/** A package at a temp dir with the given addon files ('real' = a copy of the addon we run, 'garbage' = not an ELF). */
function layout(files: { prebuild?: 'real' | 'garbage'; release?: 'real' | 'garbage' }): string {
  const dir = mkdtempSync(join(tmpdir(), 'oss-loader-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'openssl-session', type: 'module' }));
  mkdirSync(join(dir, 'lib'));
  copyFileSync(join(packageRoot, 'lib', 'native.ts'), join(dir, 'lib', 'native.ts'));
  symlinkSync(join(packageRoot, 'node_modules'), join(dir, 'node_modules'));
  const place = (sub: string[], kind: 'real' | 'garbage' | undefined) => {
    if (!kind) return;
    mkdirSync(join(dir, ...sub), { recursive: true });
    const target = join(dir, ...sub, 'openssl_session.node');
    if (kind === 'real') copyFileSync(addonPath, target);
    else writeFileSync(target, 'this is not a shared object\n');
  };
  place(['prebuilds', platformArch], files.prebuild);
  place(['build', 'Release'], files.release);
  return dir;
}

/** Imports <dir>/lib/native.ts in a child node; returns what it printed or threw. */
function load(dir: string): { ok: boolean; out: string } {
  const script =
    `import(${JSON.stringify(join(dir, 'lib', 'native.ts'))}).then(` +
    `(m) => console.log(JSON.stringify({ addonPath: m.addonPath, root: m.packageRoot, version: m.binding.openSSLVersion() })),` +
    `(e) => { console.log(e.message); process.exit(3); })`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: packageRoot, encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}`.trim() };
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('the addon loader (lib/native.ts)', () => {
  it('finds the package root above lib/ and loads from one of its candidates', () => {
    expect(execFileSync(process.execPath, ['-p', 'require("./package.json").name'], { cwd: packageRoot, encoding: 'utf8' }).trim()).toBe(
      'openssl-session',
    );
    expect(addonPath.startsWith(packageRoot)).toBe(true);
  });

  it('prefers prebuilds/<platform>-<arch>/ over build/Release', () => {
    const dir = layout({ prebuild: 'real', release: 'real' });
    const { ok, out } = load(dir);
    expect(ok, out).toBe(true);
    const loaded = JSON.parse(out) as { addonPath: string; root: string; version: string };
    expect(loaded.root).toBe(dir);
    expect(loaded.addonPath).toBe(join(dir, 'prebuilds', platformArch, 'openssl_session.node'));
    expect(loaded.version).toBe(process.versions.openssl);
  });

  it('uses build/Release when there is no prebuild', () => {
    const dir = layout({ release: 'real' });
    const { ok, out } = load(dir);
    expect(ok, out).toBe(true);
    expect((JSON.parse(out) as { addonPath: string }).addonPath).toBe(join(dir, 'build', 'Release', 'openssl_session.node'));
  });

  it('falls through a prebuild that cannot load (another libc, a bad download) to build/Release', () => {
    const dir = layout({ prebuild: 'garbage', release: 'real' });
    const { ok, out } = load(dir);
    expect(ok, out).toBe(true);
    expect((JSON.parse(out) as { addonPath: string }).addonPath).toBe(join(dir, 'build', 'Release', 'openssl_session.node'));
  });

  it('with no binary, names both places and the fix', () => {
    const dir = layout({});
    const { ok, out } = load(dir);
    expect(ok).toBe(false);
    expect(out).toContain(`Looked in ${join(dir, 'prebuilds', platformArch)} (prebuilt) and ${join(dir, 'build', 'Release')}`);
    expect(out).toContain('no openssl_session.node there');
    expect(out).toContain('npm rebuild openssl-session');
    expect(out).toMatch(/CMake >= 3\.15 and a C\+\+17 compiler/);
  });

  it('with only a broken binary, says which file failed and why', () => {
    const dir = layout({ prebuild: 'garbage' });
    const { ok, out } = load(dir);
    expect(ok).toBe(false);
    expect(out).toContain(`found but could not load ${join(dir, 'prebuilds', platformArch, 'openssl_session.node')}:`);
    expect(out).toContain('npm rebuild openssl-session');
  });
});
