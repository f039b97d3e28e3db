import type { RuleSet, ServiceDefinition } from './types.js';

/** Why the service's knowledge.parameters do not bind to the rule set's CQL library (empty when they do). */
export function checkParameters(definition: ServiceDefinition, ruleSet: RuleSet): string[] {
  const parameters = definition.knowledge.parameters ?? {};
  if (Object.keys(parameters).length === 0) return [];
  if (!ruleSet.cql || !ruleSet.library) return ['knowledge.parameters are given, but the rule set has no CQL library'];
  const main = ruleSet.libraries[0];
  type WithParameters = { source?: { library?: { parameters?: { def?: Array<{ name: string }> } } } };
  const declared = new Set(
    ((ruleSet.library as unknown as WithParameters).source?.library?.parameters?.def ?? []).map((p) => p.name),
  );
  return Object.keys(parameters)
    .filter((name) => !declared.has(name))
    .map(
      (name) => `knowledge.parameters.${name}: library ${main.library} ${main.version} declares no parameter "${name}"`,
    );
}
