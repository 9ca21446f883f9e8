import { Module } from '@nestjs/common';
import { QueueModule } from '@lora/queue';
import { QueuesController } from './queues.controller';

@Module({ imports: [QueueModule], controllers: [QueuesController] })
export class QueuesModule {}
