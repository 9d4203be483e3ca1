/**
 * scripts/install.cjs, the package's `install` script: takes the prebuild when it loads in this
 * node, builds from source otherwise (or when asked), and says which. Run with --dry-run in a
 * throwaway package layout, so nothing is compiled here; `npm run test:package` runs it for real.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { addonPath, packageRoot } from '../lib/native.js';

const platformArch = `${process.platform}-${process.arch}`;
const dirs: string[] = [];

function installIn(prebuild: 'real' | 'garbage' | 'none', env: Record<string, string> = {}): { status: number | null; said: string } {
  const dir = mkdtempSync(join(tmpdir(), 'oss-install-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'scripts'));
  copyFileSync(join(packageRoot, 'scripts', 'install.cjs'), join(dir, 'scripts', 'install.cjs'));
  if (prebuild !== 'none') {
    mkdirSync(join(dir, 'prebuilds', platformArch), { recursive: true });
    const target = join(dir, 'prebuilds', platformArch, 'openssl_session.node');
    if (prebuild === 'real') copyFileSync(addonPath, target);
    else writeFileSync(target, 'not a shared object\n');
  }
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  if (!('npm_config_build_from_source' in env)) delete childEnv.npm_config_build_from_source;
  if (!('OPENSSL_SESSION_BUILD_FROM_SOURCE' in env)) delete childEnv.OPENSSL_SESSION_BUILD_FROM_SOURCE;
  const r = spawnSync(process.execPath, [join(dir, 'scripts', 'install.cjs'), '--dry-run'], { encoding: 'utf8', env: childEnv });
  return { status: r.status, said: `${r.stdout}${r.stderr}`.trim() };
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('the install script (scripts/install.cjs)', () => {
  it('uses a prebuild that loads, and says so', () => {
    const { status, said } = installIn('real');
    expect(status).toBe(0);
    expect(said).toBe(`openssl-session: using the prebuilt addon prebuilds/${platformArch}/openssl_session.node (no compiler needed)`);
  });

  it('builds from source when there is no prebuild for this platform', () => {
    const { status, said } = installIn('none');
    expect(status).toBe(0);
    expect(said).toContain(`no prebuilt addon for ${platformArch}; building from source with cmake-js`);
  });

  it('builds from source when the prebuild does not load here', () => {
    const { status, said } = installIn('garbage');
    expect(status).toBe(0);
    expect(said).toMatch(
      new RegExp(`the prebuilt addon for ${platformArch} does not load in node v[\\d.]+ \\(.+\\); building from source`),
    );
  });

  it('builds from source when asked to, prebuild or not', () => {
    const asks: Record<string, string>[] = [{ OPENSSL_SESSION_BUILD_FROM_SOURCE: '1' }, { npm_config_build_from_source: 'true' }];
    for (const env of asks) {
      const { status, said } = installIn('real', env);
      expect(status).toBe(0);
      expect(said).toContain('a source build was requested; building from source');
    }
  });
});
