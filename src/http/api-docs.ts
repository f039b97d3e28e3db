// GET /openapi.json and GET /docs: the description of the HTTP surface and its interactive reference
// (Swagger UI, served from the package: no CDN, so it works offline and behind a strict CSP).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Router } from 'express';
import { openApiDocument } from './openapi/index.js';
import { methodNotAllowed } from './error-handler.js';

const require = createRequire(import.meta.url);

export function apiDocsRoutes({ publicBaseUrl }: { publicBaseUrl?: string }): Router {
  const router = Router();
  const document = JSON.stringify(openApiDocument({ publicBaseUrl }));
  router.get('/openapi.json', (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.type('application/json').send(document);
  });
  router.all('/openapi.json', methodNotAllowed(['GET']));
  router.get('/docs', (req, res, next) => {
    // Relative links resolve under /docs/ (and under a path prefix a proxy may add).
    if (!req.originalUrl.split('?')[0].endsWith('/')) {
      res.type('text/html; charset=utf-8').send(DOCS_PAGE.replaceAll('./', './docs/'));
      return;
    }
    next();
  });
  router.get('/docs/', (_req, res) => {
    res.type('text/html; charset=utf-8').send(DOCS_PAGE);
  });
  router.all('/docs', methodNotAllowed(['GET']));
  router.get('/docs/init.js', (_req, res) => {
    res.type('text/javascript').send(INIT_SCRIPT);
  });
  // Only the files the page uses: the package's own index.html and initialiser point at a public demo document.
  const ui = dirname(require.resolve('swagger-ui-dist/package.json'));
  router.get('/docs/:file', (req, res, next) => {
    const file = String(req.params.file);
    if (!DOCS_FILES.includes(file)) {
      next();
      return;
    }
    res.sendFile(join(ui, file), { maxAge: '1h' });
  });
  return router;
}

const DOCS_FILES = [
  'swagger-ui.css',
  'swagger-ui-bundle.js',
  'swagger-ui.css.map',
  'swagger-ui-bundle.js.map',
  'favicon-32x32.png',
  'favicon-16x16.png',
];

const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>CDS Hooks server: API reference</title>
<link rel="icon" type="image/png" href="./favicon-32x32.png">
<link rel="stylesheet" href="./swagger-ui.css">
</head>
<body>
<div id="reference"></div>
<script src="./swagger-ui-bundle.js"></script>
<script src="./init.js"></script>
</body>
</html>
`;

// In a file of its own: the page's Content-Security-Policy allows no inline script.
const INIT_SCRIPT = `window.ui = SwaggerUIBundle({
  url: new URL('../openapi.json', new URL('.', document.baseURI.endsWith('/docs') ? document.baseURI + '/' : document.baseURI)).href,
  dom_id: '#reference',
  deepLinking: true,
  // No badge from the public validator: the page makes no request outside this server.
  validatorUrl: null,
});
`;
