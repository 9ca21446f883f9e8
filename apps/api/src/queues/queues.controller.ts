// GET /queues: job counts of the train and plan queues (the dashboard's queue cards). Operators
// get the full queue UI (bull-board) at /admin/queues.
import { InjectQueue } from '@nestjs/bullmq';
import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { QueueName } from '@lora/contracts';
import type { Queue } from 'bullmq';

export const COUNTED_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'paused', 'failed', 'completed'] as const;

@ApiTags('queues')
@Controller('queues')
export class QueuesController {
  private readonly queues: Queue[];

  constructor(
    @InjectQueue(QueueName.Train) train: Queue,
    @InjectQueue(QueueName.TrainGpu) gpu: Queue,
    @InjectQueue(QueueName.TrainCpu) cpu: Queue,
    @InjectQueue(QueueName.Plan) plan: Queue,
  ) {
    this.queues = [train, gpu, cpu, plan];
  }

  @Get()
  @ApiOperation({ summary: 'Job counts per state of each queue' })
  async counts() {
    return Promise.all(this.queues.map(async (q) => ({ name: q.name, counts: await q.getJobCounts(...COUNTED_STATES) })));
  }
}
