// The OpenAPI 3.1 description of the whole HTTP surface, put together from one module per route
// group. To describe a new endpoint, add it to its group's paths (or add a group to ROUTE_GROUPS);
// test/support/contract.ts checks every answer of the HTTP tests against this document.
import { productVersion } from '../../paths.js';
import { errorComponents, OPERATION_OUTCOME } from './common.js';
import { cdsHooksGroup } from './cds-hooks.js';
import { operationsGroup } from './operations.js';
import { uptakeGroup } from './uptake.js';
import { adminGroup } from './admin.js';
import { errors, type Operation, type RouteGroup, type Schema } from './types.js';

export type { RouteGroup, Operation, PathItem, Schema } from './types.js';
export { ref, jsonResponse, errors, pathParameter, queryParameter, adminKey } from './types.js';

export const ROUTE_GROUPS: RouteGroup[] = [cdsHooksGroup, operationsGroup, uptakeGroup, adminGroup];

export interface OpenApiOptions {
  /** The server's public base URL (CDS_PUBLIC_BASE_URL), named as the server when given. */
  publicBaseUrl?: string;
  groups?: RouteGroup[];
}

export function openApiDocument({ publicBaseUrl, groups = ROUTE_GROUPS }: OpenApiOptions = {}): Record<
  string,
  unknown
> {
  const paths: Record<string, unknown> = {};
  const schemas: Record<string, Schema> = { OperationOutcome: OPERATION_OUTCOME };
  for (const group of groups) {
    for (const [path, item] of Object.entries(group.paths)) {
      if (paths[path]) throw new Error(`OpenAPI: ${path} is described by two route groups`);
      const tagged = Object.fromEntries(
        Object.entries(item).map(([method, op]) =>
          method === 'parameters' ? [method, op] : [method, withUnexpectedError(group, op as Operation)],
        ),
      );
      paths[path] = tagged;
    }
    for (const [name, schema] of Object.entries(group.schemas ?? {})) {
      if (schemas[name]) throw new Error(`OpenAPI: schema ${name} is defined by two route groups`);
      schemas[name] = schema;
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'CDS Hooks server',
      version: productVersion(),
      description:
        'A CDS Hooks 2.0.1 server for a learning health system: discovery, service calls and feedback for EHRs; ' +
        'uptake, experiment and shadow reports for quality teams; knowledge operations; health, readiness and metrics.',
    },
    ...(publicBaseUrl ? { servers: [{ url: publicBaseUrl }] } : {}),
    tags: groups.map((g) => g.tag),
    paths,
    components: {
      schemas: toJsonSchema2020(schemas) as Record<string, Schema>,
      responses: errorComponents(),
      securitySchemes: {
        cdsClientJwt: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'The EHR\'s signed JWT (CDS Hooks 2.0.1 "Trusting CDS Clients"): iss a trusted client, aud the endpoint ' +
            "invoked (or a form the client's audiences allow). Not checked when CDS_AUTH is off.",
        },
        adminKey: {
          type: 'http',
          scheme: 'bearer',
          description:
            'An admin key (CDS_ADMIN_KEYS) holding the role the path needs: quality, knowledge or operations',
        },
      },
    },
  };
}

/** Every operation is tagged with its group and may answer 500 (anything unexpected, logged with detail). */
function withUnexpectedError(group: RouteGroup, op: Operation): Operation {
  return {
    tags: [group.tag.name],
    ...op,
    responses: { ...op.responses, ...(op.responses['500'] ? {} : errors(500)) },
  };
}

/** The request schemas are written for ajv's draft-07; OpenAPI 3.1 speaks JSON Schema 2020-12. */
function toJsonSchema2020(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toJsonSchema2020);
  if (!value || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (key === 'dependencies' && v && typeof v === 'object' && Object.values(v).every(Array.isArray))
      out.dependentRequired = v;
    else out[key] = toJsonSchema2020(v);
  }
  return out;
}
