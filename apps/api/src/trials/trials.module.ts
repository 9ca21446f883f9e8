import { Module } from '@nestjs/common';
import { RepositoriesModule } from '@lora/db';
import { TrialsController } from './trials.controller';

@Module({ imports: [RepositoriesModule], controllers: [TrialsController] })
export class TrialsModule {}
