// Listens on the Redis cancel channel and aborts the trials this worker runs, whatever host the
// API that cancelled them is on.
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, redisOptions, type AppConfig } from '@lora/config';
import { cancelChannel, type CancelMessage } from '@lora/contracts';
import Redis from 'ioredis';
import { TrialRunner } from './trial-runner.service';

@Injectable()
export class CancelListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger(CancelListener.name);
  private sub: Redis | null = null;

  constructor(
    private readonly runner: TrialRunner,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.sub = new Redis(redisOptions(this.config.redis.url));
    const channel = cancelChannel(this.config.redis.prefix);
    this.sub.on('message', (_channel: string, raw: string) => {
      try {
        const m = JSON.parse(raw) as CancelMessage;
        for (const id of m.trialIds) this.runner.abort(id, m.reason);
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'bad cancel message ignored');
      }
    });
    await this.sub.subscribe(channel);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.sub?.quit().catch(() => undefined);
  }
}
