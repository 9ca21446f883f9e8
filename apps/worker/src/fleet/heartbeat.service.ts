// Registers this worker in Postgres at start, heartbeats while alive, marks it offline on exit.
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@lora/config';
import { WorkerRepository } from '@lora/db';
import { initBackend } from '@lora/engine';
import * as os from 'node:os';
import { WORKER_IDENTITY, type WorkerIdentity } from './worker-identity';

@Injectable()
export class HeartbeatService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger(HeartbeatService.name);
  private timer: NodeJS.Timeout | null = null;
  private readonly running = new Set<string>();
  backend = 'unknown';
  deviceClass: 'gpu' | 'cpu' = 'cpu';
  memoryMb = Math.floor(os.totalmem() / 2 ** 20);
  private registered!: () => void;
  /** Resolves once this worker's row exists (attempts reference it). */
  readonly ready = new Promise<void>((r) => (this.registered = r));

  constructor(
    private readonly workers: WorkerRepository,
    @Inject(WORKER_IDENTITY) private readonly me: WorkerIdentity,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // Probe the backend once here so the fleet view shows what this host can run.
    const b = await initBackend(this.config.worker.backend, { wasmThreads: this.config.worker.wasmThreads });
    this.backend = b.backend;
    const gpuBackend = b.backend === 'webgpu' || (b.backend === 'tensorflow' && /gpu|cuda/i.test(b.device));
    this.deviceClass = this.config.worker.deviceClass === 'auto' ? (gpuBackend ? 'gpu' : 'cpu') : this.config.worker.deviceClass;
    this.memoryMb = this.config.worker.memoryMb ?? this.memoryMb;
    await this.workers.register({
      ...this.me,
      slots: this.config.worker.slots,
      backend: b.backend,
      device: b.device,
      deviceClass: this.deviceClass,
      memoryMb: this.memoryMb,
    });
    this.registered();
    this.timer = setInterval(() => void this.beat(), this.config.worker.heartbeatMs);
    this.timer.unref();
    this.log.log(
      { workerId: this.me.id, backend: b.backend, device: b.device, skipped: b.skipped, slots: this.config.worker.slots },
      'worker registered',
    );
  }

  trialStarted(trialId: string): void {
    this.running.add(trialId);
  }

  trialEnded(trialId: string): void {
    this.running.delete(trialId);
  }

  /** SIGTERM: the fleet view shows this worker draining until it is offline. */
  async draining(): Promise<void> {
    await this.workers.setStatus(this.me.id, 'draining').catch(() => undefined);
  }

  private async beat(): Promise<void> {
    try {
      await this.workers.heartbeat(this.me.id, [...this.running][0] ?? null);
    } catch (e) {
      this.log.warn({ workerId: this.me.id, err: (e as Error).message }, 'heartbeat failed');
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.workers.setStatus(this.me.id, 'offline').catch(() => undefined);
  }
}
