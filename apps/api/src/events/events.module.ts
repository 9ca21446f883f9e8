import { Module } from '@nestjs/common';
import { RepositoriesModule } from '@lora/db';
import { EventsController } from './events.controller';
import { LiveStreamService } from './live-stream.service';

@Module({ imports: [RepositoriesModule], controllers: [EventsController], providers: [LiveStreamService] })
export class EventsModule {}
