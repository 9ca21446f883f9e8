import { Module } from '@nestjs/common';
import { RepositoriesModule } from '@lora/db';
import { QueueModule } from '../queue/queue.module';
import { TrialControlService } from './trial-control.service';
import { TrialsController } from './trials.controller';

@Module({
  imports: [RepositoriesModule, QueueModule],
  controllers: [TrialsController],
  providers: [TrialControlService],
  exports: [TrialControlService],
})
export class TrialsModule {}
