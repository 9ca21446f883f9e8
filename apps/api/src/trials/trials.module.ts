import { Module } from '@nestjs/common';
import { RepositoriesModule } from '@lora/db';
import { QueueModule } from '@lora/queue';
import { ReplanService } from './replan.service';
import { TrialControlService } from './trial-control.service';
import { TrialsController } from './trials.controller';

@Module({
  imports: [RepositoriesModule, QueueModule],
  controllers: [TrialsController],
  providers: [TrialControlService, ReplanService],
  exports: [TrialControlService],
})
export class TrialsModule {}
