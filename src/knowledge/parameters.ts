import type { ParameterSource, RuleSet, ServiceDefinition } from './types.js';
import {
  declaredParameters,
  describeType,
  parameterValue,
  ParameterValueError,
  type DeclaredParameter,
  type ParameterValueSource,
} from './parameter-values.js';

type WithSource = { source?: { library?: Record<string, unknown> } };

/** The parameters the rule set's main library declares (none without a library). */
export function libraryParameters(ruleSet: RuleSet): DeclaredParameter[] {
  return declaredParameters((ruleSet.library as unknown as WithSource | undefined)?.source?.library);
}

export function isValueSource(source: ParameterSource): source is ParameterValueSource {
  return typeof source === 'object' && source !== null;
}

/**
 * Why the service's knowledge.parameters do not fit the rule set's CQL library (empty when they do):
 * a binding to a parameter the library does not declare, a literal or relative value that is not of
 * the declared type, and a declared parameter with neither a default nor a binding (cql-execution
 * would hand the logic the parameter's definition instead of a value).
 */
export function checkParameters(definition: ServiceDefinition, ruleSet: RuleSet, now = new Date()): string[] {
  const parameters = definition.knowledge.parameters ?? {};
  if (!ruleSet.cql || !ruleSet.library)
    return Object.keys(parameters).length > 0
      ? ['knowledge.parameters are given, but the rule set has no CQL library']
      : [];
  const main = ruleSet.libraries[0];
  const declared = new Map(libraryParameters(ruleSet).map((p) => [p.name, p]));
  const reasons: string[] = [];
  for (const [name, source] of Object.entries(parameters)) {
    const parameter = declared.get(name);
    if (!parameter) {
      reasons.push(
        `knowledge.parameters.${name}: library ${main.library} ${main.version} declares no parameter "${name}"`,
      );
      continue;
    }
    if (!isValueSource(source)) continue;
    if (!parameter.type) {
      reasons.push(
        `knowledge.parameters.${name}: parameter "${name}" of library ${main.library} ${main.version} declares no type, so a value cannot be checked against it`,
      );
      continue;
    }
    try {
      parameterValue(source, parameter.type, now);
    } catch (err) {
      if (!(err instanceof ParameterValueError)) throw err;
      reasons.push(`knowledge.parameters.${name} (${describeType(parameter.type)}): ${err.message}`);
    }
  }
  for (const parameter of declared.values()) {
    if (parameter.hasDefault || Object.hasOwn(parameters, parameter.name)) continue;
    const where = `${ruleSet.libraryFile ?? `library ${main.library} ${main.version}`}${parameter.line ? `:${parameter.line}` : ''}`;
    reasons.push(
      `${where}: library ${main.library} ${main.version} declares parameter "${parameter.name}"${parameter.type ? ` ${describeType(parameter.type)}` : ''} without a default, and knowledge.parameters gives it no value`,
    );
  }
  return reasons;
}
