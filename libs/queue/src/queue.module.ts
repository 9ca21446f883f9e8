// BullMQ connection (ioredis) and the train queue, for processes that produce jobs.
import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { QueueName, SWEEP_FLOW_PRODUCER } from '@lora/contracts';
import { TrainQueueService } from './train-queue.service';

@Module({
  imports: [
    BullModule.registerQueue({ name: QueueName.Train }, { name: QueueName.Plan }),
    BullModule.registerFlowProducer({ name: SWEEP_FLOW_PRODUCER }),
  ],
  providers: [TrainQueueService],
  exports: [TrainQueueService],
})
export class QueueModule {}
