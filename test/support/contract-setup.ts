// vitest setup file: every answer a test gets through supertest is checked against the OpenAPI
// document (contract.ts) before the test's own expectations; a mismatch fails that request.
import supertest from 'supertest';
import { contractProblem } from './contract.js';

type Assert = (this: any, resError: unknown, res: any, fn?: (err: unknown, res: unknown) => void) => void;

const Test = (supertest as unknown as { Test: { prototype: { assert: Assert } } }).Test;
const assert = Test.prototype.assert;

/** Only apps that publish a description are checked (not the small apps some tests build around one middleware). */
function describesItself(target: any): boolean {
  const handler = typeof target?.listeners === 'function' ? target.listeners('request')[0] : target;
  return typeof handler?.get === 'function' && handler.get('api description') === '/openapi.json';
}

Test.prototype.assert = function (this: any, resError, res, fn) {
  if (res && fn && describesItself(this.app)) {
    const problem = contractProblem({
      method: String(this.method),
      url: String(this.url),
      status: Number(res.status),
      contentType: res.headers?.['content-type'] as string | undefined,
      body: res.body,
    });
    if (problem) {
      fn.call(this, new Error(`OpenAPI contract: ${problem}`), res);
      return;
    }
  }
  assert.call(this, resError, res, fn);
};
