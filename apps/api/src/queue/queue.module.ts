// BullMQ connection (ioredis) and the train queue, for processes that produce jobs.
import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { QueueName } from '@lora/contracts';
import { TrainQueueService } from './train-queue.service';

@Module({
  imports: [BullModule.registerQueue({ name: QueueName.Train })],
  providers: [TrainQueueService],
  exports: [TrainQueueService],
})
export class QueueModule {}
