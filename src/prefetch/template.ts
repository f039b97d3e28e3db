// Prefetch templates: {{context.<field>}} and the user tokens of CDS Hooks 2.0.
import { invalidPrefetchToken } from '../errors.js';
import { placeholdersIn, replacePlaceholders } from '../cards/index.js';

const USER_TOKENS: Record<string, string> = {
  userPractitionerId: 'Practitioner',
  userPractitionerRoleId: 'PractitionerRole',
  userPatientId: 'Patient',
  userRelatedPersonId: 'RelatedPerson',
};

/** Tokens a template may use (for validating the service catalogue). */
export function templateTokens(template: string): string[] {
  return placeholdersIn(template);
}

export function isSupportedToken(token: string): boolean {
  return /^context\.[A-Za-z][A-Za-z0-9]*$/.test(token) || Object.hasOwn(USER_TOKENS, token);
}

/**
 * Why a template cannot be filled for a hook whose context offers `contextTokens` as prefetch tokens
 * and whose userId may name `userTypes` (empty when it can). Checked when knowledge loads: at call
 * time a bad token fails every call, or silently leaves the data out.
 */
export function templateProblems(
  template: string,
  hook: string,
  contextTokens: string[],
  userTypes: string[],
): string[] {
  const userTokens = Object.keys(USER_TOKENS).filter((t) => userTypes.includes(USER_TOKENS[t]));
  const allowed = [...contextTokens.map((t) => `context.${t}`), ...userTokens];
  const problems: string[] = [];
  for (const token of templateTokens(template)) {
    if (
      userTokens.includes(token) ||
      (token.startsWith('context.') && contextTokens.includes(token.slice('context.'.length)))
    )
      continue;
    problems.push(
      `{{${token}}} is not a prefetch token of hook '${hook}' (it has ${allowed.map((t) => `{{${t}}}`).join(', ')})`,
    );
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(template) || template.startsWith('/')) {
    problems.push(
      'a prefetch template is a FHIR query relative to the FHIR server (e.g. Patient/{{context.patientId}}), not an absolute URL or path',
    );
  }
  return problems;
}

/**
 * Fills a template with values from the context. Returns undefined when a token has no value
 * (e.g. {{userPractitionerRoleId}} when the user is a Practitioner): there is nothing to fetch.
 */
export function fillTemplate(template: string, context: Record<string, unknown>): string | undefined {
  let missing = false;
  const url = replacePlaceholders(template, (token) => {
    const value = tokenValue(token, context);
    if (value === undefined) {
      missing = true;
      return '';
    }
    // Values are FHIR ids or Type/id references (validated); keep the slash of a reference.
    return encodeURIComponent(value).replace(/%2F/g, '/');
  });
  return missing ? undefined : url;
}

function tokenValue(token: string, context: Record<string, unknown>): string | undefined {
  if (token.startsWith('context.')) {
    const value = context[token.slice('context.'.length)];
    if (typeof value === 'string' || typeof value === 'number') return String(value);
    if (value === undefined) return undefined;
    throw invalidPrefetchToken(token, 'not-a-primitive-context-field');
  }
  const type = USER_TOKENS[token];
  if (!type) throw invalidPrefetchToken(token, 'unsupported');
  const userId = context.userId;
  if (typeof userId !== 'string') return undefined;
  const [userType, ...rest] = userId.split('/');
  return userType === type && rest.length > 0 ? rest.join('/') : undefined;
}
