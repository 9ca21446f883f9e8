import { Module } from '@nestjs/common';
import { RepositoriesModule } from '@lora/db';
import { QueueModule } from '../queue/queue.module';
import { SweepsController } from './sweeps.controller';
import { SweepsService } from './sweeps.service';

@Module({ imports: [RepositoriesModule, QueueModule], controllers: [SweepsController], providers: [SweepsService] })
export class SweepsModule {}
