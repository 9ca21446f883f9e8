import { Module } from '@nestjs/common';
import { RepositoriesModule } from '@lora/db';
import { CheckpointsController } from './checkpoints.controller';
import { MergedModelService } from './merged-model.service';

@Module({ imports: [RepositoriesModule], controllers: [CheckpointsController], providers: [MergedModelService] })
export class CheckpointsModule {}
