import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, CONFIG_VARIABLES, loadConfig, type ConfigVariable } from '../../src/config.js';
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
    expect(loadConfig(AUTH_READY)).toMatchObject({
      auth: 'on',
      publicBaseUrl: 'https://cds.example.org',
      jwtClockSkewS: 60,
      jwtMaxLifetimeS: 3600,
      prefetchDeadlineMs: 5000,
    });
  });

  it('runs without them when CDS_AUTH=off', () => {
    expect(loadConfig({ CDS_AUTH: 'off' }).auth).toBe('off');
  });

  it('keeps a path in the public base URL and drops a trailing slash', () => {
    expect(loadConfig({ ...AUTH_READY, CDS_PUBLIC_BASE_URL: 'https://gateway.example.org/cds/' }).publicBaseUrl).toBe(
      'https://gateway.example.org/cds',
    );
  });

  it('reads admin keys as role:sha256 pairs', () => {
    const hash = hashAdminKey('k1');
    expect(
      loadConfig({ CDS_AUTH: 'off', CDS_ADMIN_KEYS: `quality:${hash}, knowledge:${hash.toUpperCase()}` }).adminKeys,
    ).toEqual([
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
    const config = loadConfig({
      CDS_AUTH: 'off',
      CDS_TLS_CERT: join(dir, 'cert.pem'),
      CDS_TLS_KEY: join(dir, 'key.pem'),
    });
    expect(config).toMatchObject({ tlsCertFile: join(dir, 'cert.pem'), tlsKeyFile: join(dir, 'key.pem') });
  });
});

describe('serving drafts', () => {
  it('does not serve drafts unless CDS_SERVE_DRAFTS=on, and refuses any other value', () => {
    expect(loadConfig({ CDS_AUTH: 'off' }).serveDrafts).toBe(false);
    expect(loadConfig({ CDS_AUTH: 'off', CDS_SERVE_DRAFTS: 'on' }).serveDrafts).toBe(true);
    expect(problems({ CDS_AUTH: 'off', CDS_SERVE_DRAFTS: 'yes' })).toEqual([
      'CDS_SERVE_DRAFTS="yes" must be on or off',
    ]);
  });
});

/** The README's configuration table: variable → its default, `none` when it has none. */
function readmeDefaults(): Record<string, string> {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const section = /^## Configuration\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1];
  if (!section) return expect.fail('README.md has no "## Configuration" section');
  const defaults: Record<string, string> = {};
  for (const row of section.split('\n').filter((line) => line.startsWith('| `CDS_'))) {
    const [names, fallback] = row
      .split('|')
      .slice(1)
      .map((cell) => cell.trim());
    // `none (plain HTTP)` and `none; required when ...` mean none; otherwise the default is the first `code`.
    const value = /^none\b/.test(fallback) ? 'none' : (/`([^`]+)`/.exec(fallback)?.[1] ?? fallback);
    for (const [, name] of names.matchAll(/`(CDS_\w+)`/g)) {
      expect(defaults, `${name} has two rows`).not.toHaveProperty(name);
      defaults[name] = value;
    }
  }
  return defaults;
}

const ENV_READ = /\benv\??\.\s*CDS_|\benv\s*\[\s*['"`]CDS_|\{[^}]*\bCDS_\w+[^}]*\}\s*=\s*(process\.)?env\b/;

/** `file:line` of each line that reads a CDS_ variable from the environment. */
function environmentReads(file: string, text: string): string[] {
  return text.split('\n').flatMap((line, i) => (ENV_READ.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : []));
}

describe('the configuration table', () => {
  it('is what the README documents: the same variables with the same defaults', () => {
    const variables: ConfigVariable[] = Object.values(CONFIG_VARIABLES);
    const table = Object.fromEntries(variables.map((v) => [v.name, v.default ?? 'none']));
    expect(Object.keys(table), 'a variable is in the table twice').toHaveLength(variables.length);
    expect(readmeDefaults()).toEqual(table);
  });

  it('is the only place in src/ that reads a CDS_ variable from the environment', () => {
    const sample = 'const a = 1;\nport = process.env.CDS_PORT;\nenv["CDS_X"];\nconst { CDS_Y } = process.env;';
    expect(environmentReads('a.ts', sample)).toEqual([
      'a.ts:2: port = process.env.CDS_PORT;',
      'a.ts:3: env["CDS_X"];',
      'a.ts:4: const { CDS_Y } = process.env;',
    ]);
    const src = join(repoRoot, 'src');
    const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((file) =>
      statSync(join(src, file)).isFile(),
    );
    expect(files).toContain(join('cli', 'program.ts'));
    const reads = files
      .filter((file) => file !== 'config.ts')
      .flatMap((file) => environmentReads(`src/${file}`, readFileSync(join(src, file), 'utf8')));
    expect(reads, 'read these through src/config.ts (CONFIG_VARIABLES, readCliSettings)').toEqual([]);
  });
});
