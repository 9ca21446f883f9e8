import { Module } from '@nestjs/common';
import { RepositoriesModule } from '@lora/db';
import { CheckpointsController } from './checkpoints.controller';

@Module({ imports: [RepositoriesModule], controllers: [CheckpointsController] })
export class CheckpointsModule {}
