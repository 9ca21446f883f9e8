// GET /health: Postgres and Redis reachable? 200 when both answer, 503 naming the one that doesn't.
import { Controller, Get, HttpException, HttpStatus } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { PrismaService } from '@lora/db';
import { TrainQueueService } from '@lora/queue';
import { Public } from '../auth/auth.guard';

const withTimeout = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`no answer in ${ms} ms`)), ms).unref())]);

@Public()
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly prisma: PrismaService,
    private readonly queue: TrainQueueService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Liveness of the API and its dependencies' })
  async check() {
    const probe = async (f: () => Promise<unknown>) => {
      try {
        await withTimeout(f(), 2000);
        return { status: 'up' as const };
      } catch (e) {
        return { status: 'down' as const, error: (e as Error).message };
      }
    };
    const [postgres, redis] = await Promise.all([probe(() => this.prisma.$queryRawUnsafe('SELECT 1')), probe(() => this.queue.ping())]);
    const body = { status: postgres.status === 'up' && redis.status === 'up' ? 'ok' : 'error', postgres, redis };
    if (body.status !== 'ok') throw new HttpException(body, HttpStatus.SERVICE_UNAVAILABLE);
    return body;
  }
}
