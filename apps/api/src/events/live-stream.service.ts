// One Redis subscriber per API host (pattern over every sweep's events channel) fanned out to
// any number of server-sent-event connections.
import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, redisOptions, type AppConfig } from '@lora/config';
import { eventsPattern, type LiveEvent } from '@lora/contracts';
import Redis from 'ioredis';
import { Observable, Subject } from 'rxjs';

@Injectable()
export class LiveStreamService implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger(LiveStreamService.name);
  private readonly events$ = new Subject<LiveEvent>();
  private sub: Redis | null = null;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  async onModuleInit(): Promise<void> {
    // ioredis re-subscribes by itself after a reconnect.
    this.sub = new Redis({ ...redisOptions(this.config.redis.url), lazyConnect: true });
    this.sub.on('error', (e: Error) => this.log.warn({ err: e.message }, 'live events subscriber error'));
    this.sub.on('pmessage', (_pattern: string, _channel: string, raw: string) => {
      // Nobody streams now: the event is dropped unread (a busy fleet sends thousands a second).
      if (!this.events$.observed) return;
      try {
        this.events$.next(JSON.parse(raw) as LiveEvent);
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'bad live event ignored');
      }
    });
    await this.sub.connect();
    await this.sub.psubscribe(eventsPattern(this.config.redis.prefix));
  }

  get events(): Observable<LiveEvent> {
    return this.events$.asObservable();
  }

  async onApplicationShutdown(): Promise<void> {
    this.events$.complete();
    await this.sub?.quit().catch(() => undefined);
  }
}
