export { resolvePrefetch, type PrefetchResult, type PrefetchStatus, type PrefetchOptions } from './resolve-prefetch.js';
export { fillTemplate, templateTokens, isSupportedToken, templateProblems } from './template.js';
export { askedCount, shortfallOf, type PrefetchShortfall } from './search-shortfall.js';
export { fetchMedications, MAX_MEDICATION_READS } from './medications.js';
export {
  encodeSearchValue,
  escapeSearchValue,
  parseTokenValue,
  splitSearchValue,
  tokenSearchValue,
  unescapeSearchValue,
} from './search-value.js';
