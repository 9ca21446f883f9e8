// BullMQ connection (ioredis) and the train queue, for processes that produce jobs, and the
// publisher of live events.
import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { QueueName, SWEEP_FLOW_PRODUCER } from '@lora/contracts';
import { RepositoriesModule } from '@lora/db';
import { LiveEventsService } from './live-events.service';
import { TrainQueueService } from './train-queue.service';

@Module({
  imports: [
    BullModule.registerQueue(
      { name: QueueName.Train },
      { name: QueueName.TrainGpu },
      { name: QueueName.TrainCpu },
      { name: QueueName.Plan },
    ),
    BullModule.registerFlowProducer({ name: SWEEP_FLOW_PRODUCER }),
    RepositoriesModule,
  ],
  providers: [TrainQueueService, LiveEventsService],
  exports: [TrainQueueService, LiveEventsService, BullModule],
})
export class QueueModule {}
