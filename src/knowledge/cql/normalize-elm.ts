// ELM as the official translator writes it, adjusted where cql-execution 3.3 would fail on it.
// Each fix keeps the meaning of the CQL; each has a regression test in test/knowledge/published.test.ts.
//
// 1. A `code` declared `from` a code system of an included library (code "X": '1' from Common."LOINC"):
//    cql-execution's CodeDef ignores the library name and fails with "Cannot read properties of
//    undefined (reading 'execute')". The code system definition is copied into the library.
// 2. A retrieve filtered with plain strings on a non-terminology element
//    ([MedicationRequest: status in {'active'}]): cql-execution calls hasMatch on each string
//    ("c.hasMatch is not a function"). The retrieve becomes a query with the same filter in a where clause.
import type { ElmLibrary } from './translator.js';
import { fhirModelInfo, isPrimitiveType } from '../../fhir/index.js';

type Node = Record<string, any>;

export interface NormalizeResult {
  /** What was changed, for the load log. */
  changes: string[];
  /** What could not be made to work, reported as load errors. */
  problems: Array<{ message: string; locator?: string }>;
}

/** Mutates `elm` in place. `resolve` finds an included library's ELM by path and version. */
export function normalizeElm(
  elm: ElmLibrary,
  resolve: (path: string, version?: string) => ElmLibrary | undefined,
): NormalizeResult {
  const result: NormalizeResult = { changes: [], problems: [] };
  const library = elm.library as Node;
  inlineIncludedCodeSystems(library, resolve, result);
  let counter = 0;
  walk(library.statements, (node) => {
    if (node.type !== 'Retrieve' || !stringCodes(node.codes)) return node;
    const replaced = retrieveAsQuery(node, `$retrieve${counter++}`, result);
    return replaced ?? node;
  });
  return result;
}

function inlineIncludedCodeSystems(
  library: Node,
  resolve: (path: string, version?: string) => ElmLibrary | undefined,
  result: NormalizeResult,
): void {
  const codes: Node[] = library.codes?.def ?? [];
  const includes: Node[] = library.includes?.def ?? [];
  for (const code of codes) {
    const alias = code.codeSystem?.libraryName as string | undefined;
    if (!alias) continue;
    const include = includes.find((i) => i.localIdentifier === alias);
    const included = include ? resolve(include.path, include.version) : undefined;
    const system = ((included?.library as Node | undefined)?.codeSystems?.def ?? []).find(
      (cs: Node) => cs.name === code.codeSystem.name,
    );
    if (!system) {
      result.problems.push({
        message: `code "${code.name}" is from ${alias}."${code.codeSystem.name}", which cannot be found`,
        locator: code.locator,
      });
      continue;
    }
    const localName = `${alias}.${code.codeSystem.name}`;
    library.codeSystems ??= { def: [] };
    library.codeSystems.def ??= [];
    if (!library.codeSystems.def.some((cs: Node) => cs.name === localName)) {
      library.codeSystems.def.push({ ...system, name: localName, accessLevel: 'Private' });
    }
    code.codeSystem = { ...code.codeSystem, name: localName };
    delete code.codeSystem.libraryName;
    result.changes.push(`code "${code.name}": code system ${alias}."${system.name}" copied into the library`);
  }
}

/** The retrieve's codes are literal strings (a list of them, or one). */
function stringCodes(codes: Node | undefined): boolean {
  if (!codes) return false;
  const isString = (n: Node) =>
    n?.type === 'Literal' && typeof n.valueType === 'string' && n.valueType.endsWith('}String');
  if (codes.type === 'List')
    return Array.isArray(codes.element) && codes.element.length > 0 && codes.element.every(isString);
  if (codes.type === 'ToList') return isString(codes.operand);
  return isString(codes);
}

function retrieveAsQuery(retrieve: Node, alias: string, result: NormalizeResult): Node | undefined {
  const typeName = String(retrieve.dataType ?? '').replace(/^\{http:\/\/hl7\.org\/fhir\}/, '');
  const property = String(retrieve.codeProperty ?? '');
  const classInfo = fhirModelInfo().findClass(`FHIR.${typeName}`);
  const element = classInfo?.findElement(property, true);
  if (!element || !isPrimitiveType(element.typeSpecifier)) {
    result.problems.push({
      message: `[${typeName}: ${property} in {...}] filters ${property} with strings, which cql-execution cannot do for this element; use a Code or a value set, or filter in a where clause`,
      locator: retrieve.locator,
    });
    return undefined;
  }
  const { codes, codeProperty: _p, codeComparator: _c, ...unfiltered } = retrieve;
  const list =
    codes.type === 'List' ? codes : { type: 'List', element: [codes.type === 'ToList' ? codes.operand : codes] };
  result.changes.push(`[${typeName}: ${property} in {...}] at ${retrieve.locator ?? '?'} evaluated as a where clause`);
  return {
    type: 'Query',
    locator: retrieve.locator,
    source: [{ alias, expression: unfiltered }],
    relationship: [],
    where: { type: 'In', operand: [{ type: 'Property', path: `${property}.value`, scope: alias }, list] },
  };
}

/** Depth-first walk that lets `visit` replace any object node. */
function walk(node: unknown, visit: (n: Node) => Node): void {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      if (node[i] && typeof node[i] === 'object') {
        node[i] = visit(node[i] as Node);
        walk(node[i], visit);
      }
    }
  } else if (node && typeof node === 'object') {
    for (const [key, child] of Object.entries(node as Node)) {
      if (key === 'annotation' || !child || typeof child !== 'object') continue;
      if (!Array.isArray(child)) (node as Node)[key] = visit(child as Node);
      walk((node as Node)[key], visit);
    }
  }
}
