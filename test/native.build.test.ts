import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { openSSLVersion } from '../lib/index.js';
import { binding, packageRoot } from '../lib/native.js';

function builtAddons(): string[] {
  const found: string[] = [];
  for (const dir of [join(packageRoot, 'build', 'Release'), join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`)]) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) if (f.endsWith('.node')) found.push(join(dir, f));
  }
  return found;
}

describe('the one OpenSSL', () => {
  it("reports exactly the running node's OpenSSL version", () => {
    expect(openSSLVersion()).toBe(process.versions.openssl);
  });

  it('was compiled against headers of the same OpenSSL major version', () => {
    expect(binding.builtWithOpenSSL.split('.')[0]).toBe(process.versions.openssl.split('.')[0]);
  });

  it('links no libssl/libcrypto of its own', () => {
    const addons = builtAddons();
    expect(addons.length).toBeGreaterThan(0);
    for (const file of addons) {
      const deps =
        process.platform === 'darwin'
          ? execFileSync('otool', ['-L', file], { encoding: 'utf8' })
          : execFileSync('ldd', [file], { encoding: 'utf8' });
      expect(deps).not.toMatch(/libssl|libcrypto/);
    }
  });
});
