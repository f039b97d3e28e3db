export { HOOKS, isKnownHook, type HookDefinition } from './catalogue.js';
export { validateHookRequest, HOOK_REQUEST_SCHEMA } from './validate-request.js';
export type { HookRequest, FhirAuthorization } from './types.js';
