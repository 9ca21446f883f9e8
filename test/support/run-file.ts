import * as os from 'node:os';
import * as path from 'node:path';

/** Where global setup leaves this run's schema/prefix for teardown (both run in the Jest parent). */
export const RUN_FILE = path.join(os.tmpdir(), `lora-e2e-run-${process.pid}.json`);
