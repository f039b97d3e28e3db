import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/paths.js';

export interface FixtureRequest {
  service: string;
  name: string;
  body: Record<string, unknown>;
}

/** Every example request under fixtures/requests/<service-id>/ (not the .expected.json files). */
export function fixtureRequests(): FixtureRequest[] {
  const root = join(packageRoot(), 'fixtures', 'requests');
  const out: FixtureRequest[] = [];
  for (const service of readdirSync(root).sort()) {
    for (const file of readdirSync(join(root, service)).sort()) {
      if (!file.endsWith('.json') || file.endsWith('.expected.json')) continue;
      out.push({
        service,
        name: file.replace(/\.json$/, ''),
        body: JSON.parse(readFileSync(join(root, service, file), 'utf8')) as Record<string, unknown>,
      });
    }
  }
  return out;
}
