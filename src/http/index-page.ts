// GET /: what this server is and where to go from here, for a person opening the base URL in a
// browser (HTML) and for a script (JSON, the default).
import type { RequestHandler } from 'express';
import { productVersion } from '../paths.js';

export interface IndexLink {
  href: string;
  title: string;
}

/** The links of the index; a route group added later adds its own entry here. */
export const INDEX_LINKS: Record<string, IndexLink> = {
  discovery: { href: '/cds-services', title: 'CDS Hooks discovery: the services this server offers' },
  health: { href: '/health', title: 'Liveness: the process answers' },
  ready: { href: '/ready', title: 'Readiness: knowledge loaded, services, uptake ledger, start-up progress' },
  openapi: { href: '/openapi.json', title: 'OpenAPI 3.1 description of every endpoint' },
  docs: { href: '/docs', title: 'Interactive API reference' },
  dashboard: { href: '/dashboard', title: 'Uptake dashboard (admin key with the quality role)' },
  metrics: { href: '/metrics', title: 'Prometheus metrics (admin key with the operations role)' },
};

export function indexHandler(): RequestHandler {
  const version = productVersion();
  const body = { name: 'CDS Hooks server', version, links: INDEX_LINKS };
  return (req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    if (req.accepts(['application/json', 'text/html']) === 'text/html') {
      res.type('text/html; charset=utf-8').send(indexHtml(version));
      return;
    }
    res.json(body);
  };
}

function indexHtml(version: string): string {
  const items = Object.values(INDEX_LINKS)
    .map((l) => `<li><a href=".${l.href}">${l.href}</a> — ${escapeHtml(l.title)}</li>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CDS Hooks server ${escapeHtml(version)}</title></head>
<body><h1>CDS Hooks server</h1><p>Version ${escapeHtml(version)}</p>
<ul>
${items}
</ul></body></html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
