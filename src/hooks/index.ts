export { HOOKS, isKnownHook, type HookDefinition } from './catalogue.js';
export { validateHookRequest } from './validate-request.js';
export type { HookRequest, FhirAuthorization } from './types.js';
