// The level of a request's access-log line (pino-http customLogLevel). A successful read is
// logged at debug: at info its serialisation was a visible share of a request's CPU under load
// (bench/api-latency). Writes and client errors (4xx) stay at info as before; server errors at error.
import type { IncomingMessage, ServerResponse } from 'node:http';

export function accessLogLevel(req: IncomingMessage, res: ServerResponse, err?: Error): 'debug' | 'info' | 'error' {
  if (err || res.statusCode >= 500) return 'error';
  return req.method === 'GET' && res.statusCode < 400 ? 'debug' : 'info';
}
