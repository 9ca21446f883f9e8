import { Module } from '@nestjs/common';
import { RepositoriesModule } from '@lora/db';
import { WorkersController } from './workers.controller';

@Module({ imports: [RepositoriesModule], controllers: [WorkersController] })
export class WorkersModule {}
