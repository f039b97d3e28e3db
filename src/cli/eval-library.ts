// cds eval --library Name[@version] --patients <dir|bundle> [--as-of] [--param name=value] [--format json|csv]:
// every define of one library for each patient of a batch, in one process, the library compiled once
// (and, through the ELM cache, not at all when it was compiled before).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CommanderError } from 'commander';
import { libraryEvaluator, fhirDataModel, type LibraryEvaluation } from '../engine/index.js';
import {
  createCachingTranslator,
  elmCacheDirOf,
  createCqlTranslator,
  declaredParameters,
  describeParameterType,
  formatProblem,
  loadLibrary,
  parameterValue,
  ParameterValueError,
  terminologyOptions,
  type DeclaredParameter,
  type LoadedLibrary,
  type ParameterValueSource,
} from '../knowledge/index.js';
import { isResource, resourcesOf, type FhirResource } from '../fhir/index.js';
import { invalidEvalOption, libraryUnavailable } from '../errors.js';
import type { Config } from '../config.js';
import type { CliIo } from './io.js';

export interface LibraryEvalOptions {
  library: string;
  patients?: string;
  param: string[];
  format: 'json' | 'csv';
  now: Date;
  dir: string;
}

/** One patient of the batch: a label (the file, or the Patient's place in a Bundle) and its resources. */
interface PatientInput {
  source: string;
  resources: FhirResource[];
}

export async function runLibraryEval(io: CliIo, config: Config, options: LibraryEvalOptions): Promise<void> {
  if (!options.patients) throw invalidEvalOption('--library needs --patients <directory or Bundle file>');
  const at = options.library.lastIndexOf('@');
  const [name, version] = at > 0 ? [options.library.slice(0, at), options.library.slice(at + 1)] : [options.library];
  const patients = readPatients(options.patients);
  const cache = createCachingTranslator(elmCacheDirOf(config), () => createCqlTranslator());
  let lib: LoadedLibrary;
  try {
    lib = await loadLibrary(options.dir, { translator: cache, terminology: terminologyOptions(config) }, name, version);
  } catch (err) {
    throw libraryUnavailable((err as Error).message);
  } finally {
    await cache.close();
  }
  for (const p of lib.problems.filter((x) => x.severity === 'error')) io.stderr(`${formatProblem(p)}\n`);
  const { hits, compiled } = cache.stats();
  io.stderr(
    `${lib.name} ${lib.version}: ${compiled} librar${compiled === 1 ? 'y' : 'ies'} compiled, ${hits} from the ELM cache; ${patients.length} patient${patients.length === 1 ? '' : 's'}\n`,
  );
  const parameters = bindParameters(lib, options.param, options.now);
  const evaluator = libraryEvaluator(lib, parameters);
  const rows: Array<{ patient: string; source: string; result: LibraryEvaluation }> = [];
  for (const p of patients) {
    const patient = p.resources.find((r) => r.resourceType === 'Patient');
    rows.push({
      patient: patient?.id ?? '',
      source: p.source,
      result: await evaluator.evaluate(p.resources, options.now),
    });
  }
  const defines = lib.defines;
  if (options.format === 'csv') {
    const cell = (v: unknown): string => {
      const text = typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v);
      return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
    };
    io.stdout(`${['patient', 'source', ...defines].map(cell).join(',')}\n`);
    for (const r of rows)
      io.stdout(
        `${[r.patient, r.source, ...defines.map((d) => (d in r.result.errors ? `#error: ${r.result.errors[d]}` : r.result.values[d]))].map(cell).join(',')}\n`,
      );
  } else {
    io.stdout(
      `${JSON.stringify(
        {
          library: lib.name,
          version: lib.version,
          asOf: options.now.toISOString(),
          patients: rows.map((r) => ({
            patient: r.patient,
            source: r.source,
            defines: r.result.values,
            ...(Object.keys(r.result.errors).length > 0 ? { errors: r.result.errors } : {}),
          })),
        },
        null,
        2,
      )}\n`,
    );
  }
  const failed = rows.filter((r) => Object.keys(r.result.errors).length > 0).length;
  if (failed > 0) {
    io.stderr(`${failed} patient${failed === 1 ? '' : 's'} had defines that failed to evaluate\n`);
    throw new CommanderError(1, 'cds.evaluation-failed', 'some defines failed to evaluate');
  }
}

/**
 * `--param name=value` against the library's declared parameters: JSON (`{"interval": [...]}`,
 * `{"relative": "..."}`, a number, a list of FHIR resources for List<FHIR.X>, `@file.json`) or plain text
 * (a date, a string, or a relative time such as `this calendar year`). A parameter without default and
 * without --param is refused, as a service's would be.
 */
function bindParameters(lib: LoadedLibrary, given: string[], now: Date): (now: Date) => Record<string, unknown> {
  const declared = new Map(
    declaredParameters(
      (lib.library as unknown as { source?: { library?: Record<string, unknown> } }).source?.library,
    ).map((p) => [p.name, p]),
  );
  const bound = new Map<string, (at: Date) => unknown>();
  for (const item of given) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw invalidEvalOption(`--param '${item}' must be name=value`);
    const name = item.slice(0, eq);
    const raw = item.slice(eq + 1);
    const parameter = declared.get(name);
    if (!parameter)
      throw invalidEvalOption(`--param ${name}: library ${lib.name} ${lib.version} declares no parameter "${name}"`);
    bound.set(name, binder(parameter, raw, now));
  }
  for (const p of declared.values()) {
    if (!p.hasDefault && !bound.has(p.name))
      throw invalidEvalOption(
        `${lib.file}${p.line ? `:${p.line}` : ''}: library ${lib.name} ${lib.version} declares parameter "${p.name}"${p.type ? ` ${describeParameterType(p.type)}` : ''} without a default: give it with --param "${p.name}=…"`,
      );
  }
  return (at) => Object.fromEntries([...bound].map(([name, value]) => [name, value(at)]));
}

function binder(parameter: DeclaredParameter, raw: string, now: Date): (at: Date) => unknown {
  const text = raw.startsWith('@') ? readText(raw.slice(1)) : raw;
  let json: unknown;
  let isJson = true;
  try {
    json = JSON.parse(text);
  } catch {
    isJson = false;
  }
  const type = parameter.type;
  const where = `--param ${parameter.name}`;
  if (!type) throw invalidEvalOption(`${where}: the parameter declares no type`);
  // A list of FHIR resources for List<FHIR.X>: wrapped for CQL as draft orders are.
  if (type.kind === 'other' && /^List<FHIR\./.test(type.name)) {
    const list = Array.isArray(json)
      ? json
      : isResource(json) && json.resourceType === 'Bundle'
        ? resourcesOf(json)
        : undefined;
    if (!list || !list.every(isResource))
      throw invalidEvalOption(`${where}: ${type.name} takes a JSON array or Bundle of FHIR resources`);
    const wrap = fhirDataModel().wrap;
    return () => list.map(wrap);
  }
  const candidates: ParameterValueSource[] = [];
  if (
    isJson &&
    json &&
    typeof json === 'object' &&
    !Array.isArray(json) &&
    ('value' in json || 'interval' in json || 'relative' in json)
  )
    candidates.push(json as ParameterValueSource);
  else if (isJson) candidates.push({ value: json });
  else candidates.push({ value: text }, { relative: text });
  let last: Error | undefined;
  for (const source of candidates) {
    try {
      parameterValue(source, type, now);
      return (at) => parameterValue(source, type, at);
    } catch (err) {
      if (!(err instanceof ParameterValueError)) throw err;
      last ??= err;
    }
  }
  throw invalidEvalOption(`${where} (${describeParameterType(type)}): ${last?.message ?? 'not a value of its type'}`);
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw invalidEvalOption(`cannot read ${file}: ${(err as Error).message}`);
  }
}

/**
 * The patients of --patients: every .json file of a directory (each a patient's Bundle or one resource), or
 * one Bundle file, split by Patient when it holds several (resources go with the Patient they reference).
 */
export function readPatients(path: string): PatientInput[] {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch {
    throw invalidEvalOption(`--patients ${path}: no such file or directory`);
  }
  const parse = (file: string): unknown => {
    try {
      return JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw invalidEvalOption(`--patients: cannot read ${file}: ${(err as Error).message}`);
    }
  };
  if (isDirectory) {
    return readdirSync(path)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .flatMap((f) => splitByPatient(parse(join(path, f)), f));
  }
  return splitByPatient(parse(path), basename(path));
}

function splitByPatient(value: unknown, source: string): PatientInput[] {
  if (!isResource(value)) throw invalidEvalOption(`--patients: ${source} is not a FHIR resource`);
  const resources = value.resourceType === 'Bundle' ? resourcesOf(value) : [value];
  const patients = resources.filter((r) => r.resourceType === 'Patient');
  if (patients.length <= 1) return [{ source, resources }];
  const owner = (r: FhirResource): string | undefined => {
    for (const key of ['subject', 'patient', 'beneficiary']) {
      const ref = (r[key] as { reference?: unknown } | undefined)?.reference;
      if (typeof ref === 'string' && ref.startsWith('Patient/')) return ref.slice('Patient/'.length);
    }
    return undefined;
  };
  const shared = resources.filter((r) => r.resourceType !== 'Patient' && owner(r) === undefined);
  return patients.map((patient, i) => ({
    source: `${source}#${i}`,
    resources: [
      patient,
      ...resources.filter((r) => r.resourceType !== 'Patient' && owner(r) === patient.id),
      ...shared,
    ],
  }));
}
