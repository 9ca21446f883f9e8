// Who this worker process is: stable for its lifetime, unique across hosts.
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';

export interface WorkerIdentity {
  id: string;
  host: string;
  pid: number;
}

export const WORKER_IDENTITY = Symbol('WORKER_IDENTITY');

export function makeWorkerIdentity(host = os.hostname()): WorkerIdentity {
  return { id: `${host}:${process.pid}:${randomBytes(3).toString('hex')}`, host, pid: process.pid };
}
