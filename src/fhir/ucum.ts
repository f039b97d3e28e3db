import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface UcumUtils {
  validateUnitString(unit: string, suggest?: boolean): { status: string; msg?: string[] };
  convertUnitTo(from: string, value: number, to: string): { status: string; toVal?: number; msg?: string[] };
}

let utils: UcumUtils | undefined;

/** The UCUM library (shipped with cql-execution's own dependencies); loaded once, on first use. */
export function ucum(): UcumUtils {
  utils ??= (require('@lhncbc/ucum-lhc') as { UcumLhcUtils: { getInstance(): UcumUtils } }).UcumLhcUtils.getInstance();
  return utils;
}

/** null when the unit is valid UCUM, else a message saying why not. */
export function validateUcumUnit(unit: string): string | null {
  const result = ucum().validateUnitString(unit, false);
  return result.status === 'valid' ? null : (result.msg ?? []).join('; ') || `'${unit}' is not a valid UCUM unit`;
}

export function convertUcum(value: string, from: string, to: string): string {
  const result = ucum().convertUnitTo(from, Number(value), to);
  if (result.status !== 'succeeded' || result.toVal === undefined) {
    throw new Error(`cannot convert ${from} to ${to}: ${(result.msg ?? []).join('; ')}`);
  }
  return String(result.toVal);
}
