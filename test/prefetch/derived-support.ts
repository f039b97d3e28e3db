import { HOOKS } from '../../src/hooks/index.js';
import { templateProblems } from '../../src/prefetch/index.js';
export { derivePrefetch, servedVersions, type Knowledge } from '../../src/knowledge/index.js';

/** Why a template cannot be filled for the hook, as the loader checks hand-written ones. */
export function templateProblemsFor(template: string, hook: string): string[] {
  const h = HOOKS[hook];
  return templateProblems(template, hook, h.prefetchTokens, h.userTypes);
}
