// GET /workers: the fleet as registered in Postgres, with a derived "lost" flag.
import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { APP_CONFIG, type AppConfig } from '@lora/config';
import { WorkerRepository } from '@lora/db';

@ApiTags('workers')
@Controller('workers')
export class WorkersController {
  constructor(
    private readonly workers: WorkerRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Registered workers; "lost" when no heartbeat for 3 intervals' })
  async list() {
    const now = Date.now();
    const lostAfter = 3 * this.config.worker.heartbeatMs;
    return (await this.workers.listWithRunning()).map((w) => ({
      ...w,
      lost: w.status !== 'offline' && now - w.heartbeatAt.getTime() > lostAfter,
    }));
  }
}
