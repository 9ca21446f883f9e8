import { Module } from '@nestjs/common';
import { QueueModule } from '@lora/queue';
import { HealthController } from './health.controller';

@Module({ imports: [QueueModule], controllers: [HealthController] })
export class HealthModule {}
