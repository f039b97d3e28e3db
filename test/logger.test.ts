import { Writable } from 'node:stream';
import winston from 'winston';
import { describe, expect, it } from 'vitest';
import { logUnhandledRejections } from '../src/logger.js';

describe('unhandled rejections', () => {
  it('are logged by name and code, never by message, and do not end the process', () => {
    const lines: string[] = [];
    const logger = winston.createLogger({
      format: winston.format.json(),
      transports: [
        new winston.transports.Stream({
          stream: new Writable({
            write(chunk: Buffer, _encoding, done) {
              lines.push(chunk.toString());
              done();
            },
          }),
        }),
      ],
    });
    const onRejection = logUnhandledRejections(logger);
    try {
      expect(process.listeners('unhandledRejection')).toContain(onRejection);
      onRejection(Object.assign(new Error('duplicate key value (patient)=(Patient/123)'), { code: '23505' }));
      onRejection(undefined);
      expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([
        { level: 'error', message: 'unhandled rejection: the server goes on', error: 'Error', code: '23505' },
        { level: 'error', message: 'unhandled rejection: the server goes on', error: 'undefined' },
      ]);
      expect(lines.join('')).not.toContain('123');
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });
});
