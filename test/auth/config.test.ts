import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, CONFIG_VARIABLES, loadConfig } from '../../src/config.js';
import { hashAdminKey } from '../../src/auth/index.js';
import { repoRoot } from '../support/app.js';

function problems(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  return expect.fail('expected the configuration to be refused');
}

const AUTH_READY = { CDS_TRUSTED_CLIENTS: 'clients.json', CDS_PUBLIC_BASE_URL: 'https://cds.example.org' };

describe('security configuration', () => {
  it('verifies JWTs by default, and then needs the trusted clients and the public base URL', () => {
    expect(problems({})).toEqual([
      'CDS_TRUSTED_CLIENTS must name the trusted-clients file when CDS_AUTH is on (the default); set CDS_AUTH=off only for local development',
      "CDS_PUBLIC_BASE_URL must give the server's public base URL (the JWT aud) when CDS_AUTH is on (the default); set CDS_AUTH=off only for local development",
    ]);
    expect(loadConfig(AUTH_READY)).toMatchObject({ auth: 'on', publicBaseUrl: 'https://cds.example.org', jwtClockSkewS: 60, jwtMaxLifetimeS: 3600, prefetchDeadlineMs: 5000 });
  });

  it('runs without them when CDS_AUTH=off', () => {
    expect(loadConfig({ CDS_AUTH: 'off' }).auth).toBe('off');
  });

  it('keeps a path in the public base URL and drops a trailing slash', () => {
    expect(loadConfig({ ...AUTH_READY, CDS_PUBLIC_BASE_URL: 'https://gateway.example.org/cds/' }).publicBaseUrl).toBe('https://gateway.example.org/cds');
  });

  it('reads admin keys as role:sha256 pairs', () => {
    const hash = hashAdminKey('k1');
    expect(loadConfig({ CDS_AUTH: 'off', CDS_ADMIN_KEYS: `quality:${hash}, knowledge:${hash.toUpperCase()}` }).adminKeys).toEqual([
      { role: 'quality', sha256: hash },
      { role: 'knowledge', sha256: hash },
    ]);
  });

  it('lists every security problem at once, never echoing what may be a key', () => {
    const found = problems({
      CDS_AUTH: 'maybe',
      CDS_PUBLIC_BASE_URL: 'cds.example.org',
      CDS_ADMIN_KEYS: `auditor:${hashAdminKey('x')},quality:my-plain-secret-key,knowledge`,
      CDS_TLS_CERT: '/nonexistent/cert.pem',
      CDS_PREFETCH_DEADLINE_MS: '0',
      CDS_JWT_CLOCK_SKEW_S: 'lots',
    });
    expect(found).toEqual([
      'CDS_PREFETCH_DEADLINE_MS="0" must be a whole number from 1 to 600000',
      'CDS_JWT_CLOCK_SKEW_S="lots" must be a whole number from 0 to 600',
      'CDS_AUTH="maybe" must be on or off',
      'CDS_PUBLIC_BASE_URL="cds.example.org" must be an absolute http(s) URL without query or fragment, e.g. https://cds.example.org',
      'CDS_ADMIN_KEYS entry 1 has role "auditor"; roles are quality, knowledge, operations',
      "CDS_ADMIN_KEYS entry 2 must give the key's SHA-256 as 64 hex digits, not the key itself",
      'CDS_ADMIN_KEYS entry 3 must be role:sha256-hex (e.g. quality:<64 hex digits>)',
      'CDS_TLS_CERT and CDS_TLS_KEY must be given together',
      'CDS_TLS_CERT="/nonexistent/cert.pem" does not exist',
    ]);
    expect(found.join('\n')).not.toContain('my-plain-secret-key');
  });

  it('takes TLS certificate and key together', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cds-tls-'));
    writeFileSync(join(dir, 'cert.pem'), 'x');
    writeFileSync(join(dir, 'key.pem'), 'x');
    const config = loadConfig({ CDS_AUTH: 'off', CDS_TLS_CERT: join(dir, 'cert.pem'), CDS_TLS_KEY: join(dir, 'key.pem') });
    expect(config).toMatchObject({ tlsCertFile: join(dir, 'cert.pem'), tlsKeyFile: join(dir, 'key.pem') });
  });

  it('documents every variable it reads', () => {
    const names = CONFIG_VARIABLES.map((v) => v.name);
    for (const name of ['CDS_AUTH', 'CDS_TRUSTED_CLIENTS', 'CDS_PUBLIC_BASE_URL', 'CDS_JWT_CLOCK_SKEW_S', 'CDS_JWT_MAX_LIFETIME_S', 'CDS_PREFETCH_DEADLINE_MS', 'CDS_ADMIN_KEYS', 'CDS_RATE_LIMIT_PER_MINUTE', 'CDS_ADMIN_RATE_LIMIT_PER_MINUTE', 'CDS_TLS_CERT', 'CDS_TLS_KEY']) {
      expect(names).toContain(name);
    }
  });
});

describe('serving drafts', () => {
  it('does not serve drafts unless CDS_SERVE_DRAFTS=on, and refuses any other value', () => {
    expect(loadConfig({ CDS_AUTH: 'off' }).serveDrafts).toBe(false);
    expect(loadConfig({ CDS_AUTH: 'off', CDS_SERVE_DRAFTS: 'on' }).serveDrafts).toBe(true);
    expect(problems({ CDS_AUTH: 'off', CDS_SERVE_DRAFTS: 'yes' })).toEqual(['CDS_SERVE_DRAFTS="yes" must be on or off']);
  });
});

describe('the README', () => {
  it('documents every variable the server reads', () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    expect(CONFIG_VARIABLES.map((v) => v.name).filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
  });

  it('documents every security variable', () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    for (const name of ['CDS_AUTH', 'CDS_TRUSTED_CLIENTS', 'CDS_PUBLIC_BASE_URL', 'CDS_JWT_CLOCK_SKEW_S', 'CDS_JWT_MAX_LIFETIME_S', 'CDS_PREFETCH_DEADLINE_MS', 'CDS_ADMIN_KEYS', 'CDS_RATE_LIMIT_PER_MINUTE', 'CDS_ADMIN_RATE_LIMIT_PER_MINUTE', 'CDS_TLS_CERT', 'CDS_TLS_KEY']) {
      expect(readme).toContain(`\`${name}\``);
    }
  });
});
