import type { IncomingMessage, ServerResponse } from 'node:http';
import { accessLogLevel } from './access-log-level';

const req = (method: string) => ({ method }) as IncomingMessage;
const res = (statusCode: number) => ({ statusCode }) as ServerResponse;

describe('accessLogLevel', () => {
  it.each([
    ['GET', 200, undefined, 'debug'],
    ['GET', 304, undefined, 'debug'],
    ['POST', 201, undefined, 'info'],
    ['GET', 404, undefined, 'info'],
    ['POST', 400, undefined, 'info'],
    ['GET', 500, undefined, 'error'],
    ['GET', 200, new Error('aborted'), 'error'],
  ])('%s %i, error %p → %s', (method, status, err, level) => {
    expect(accessLogLevel(req(method), res(status), err)).toBe(level);
  });
});
