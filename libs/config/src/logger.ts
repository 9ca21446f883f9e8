// Structured logs (pino) for every process: JSON lines carrying role, host and pid; the job
// code adds sweepId/trialId/attempt bindings so each line says what it belongs to.
import * as os from 'node:os';
import type { LoggerOptions } from 'pino';
import type { AppConfig } from './config';

export function pinoOptions(config: AppConfig, role: 'api' | 'worker' | 'cli' | 'script'): LoggerOptions {
  return {
    level: config.log.level,
    base: { role, host: os.hostname(), pid: process.pid },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], remove: true },
    ...(config.log.pretty ? { transport: { target: 'pino-pretty', options: { singleLine: true, translateTime: 'HH:MM:ss.l' } } } : {}),
  };
}
