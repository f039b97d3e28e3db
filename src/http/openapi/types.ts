// The pieces of the OpenAPI 3.1 description. Each route group (CDS Hooks, health, uptake, admin, ...)
// is one module exporting a RouteGroup; index.ts puts them together. An endpoint added later is one
// more entry in its group's paths (or one more group), beside the handler it describes.

export type Schema = Record<string, unknown>;

export interface Operation {
  summary: string;
  description?: string;
  operationId: string;
  tags?: string[];
  parameters?: unknown[];
  requestBody?: unknown;
  responses: Record<string, unknown>;
  security?: Array<Record<string, string[]>>;
}

export type PathItem = Partial<Record<'get' | 'post' | 'put' | 'delete', Operation>> & { parameters?: unknown[] };

export interface RouteGroup {
  tag: { name: string; description: string };
  paths: Record<string, PathItem>;
  /** Schemas of this group, named in components.schemas. */
  schemas?: Record<string, Schema>;
}

/** A reference to a schema in components.schemas. */
export const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });

/** A JSON response whose body is `schema`. */
export function jsonResponse(description: string, schema: Schema, headers?: Record<string, unknown>): unknown {
  return { description, ...(headers ? { headers } : {}), content: { 'application/json': { schema } } };
}

/** The error answers an operation may give, by status: each a JSON OperationOutcome (components.responses). */
export function errors(...statuses: number[]): Record<string, unknown> {
  return Object.fromEntries(statuses.map((s) => [String(s), { $ref: `#/components/responses/Error${s}` }]));
}

export const pathParameter = (name: string, description: string): unknown => ({
  name,
  in: 'path',
  required: true,
  description,
  schema: { type: 'string', minLength: 1, maxLength: 256 },
});

export const queryParameter = (name: string, description: string, schema: Schema = { type: 'string' }): unknown => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
});

/** Security of the admin and reporting surface: an admin key holding `role`. */
export const adminKey = (role: string): Array<Record<string, string[]>> => [{ adminKey: [role] }];
