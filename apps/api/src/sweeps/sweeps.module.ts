import { Module } from '@nestjs/common';
import { RepositoriesModule } from '@lora/db';
import { QueueModule } from '@lora/queue';
import { TrialsModule } from '../trials/trials.module';
import { SweepsController } from './sweeps.controller';
import { SweepsService } from './sweeps.service';

@Module({ imports: [RepositoriesModule, QueueModule, TrialsModule], controllers: [SweepsController], providers: [SweepsService] })
export class SweepsModule {}
