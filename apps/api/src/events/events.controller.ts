// Server-sent events: GET /events (every sweep's state and trial rows) and GET
// /sweeps/:id/events (one sweep: state, trial rows, metric points, log lines, refetch hints).
// A `ping` event every 15 s keeps proxies from closing an idle stream.
import { Controller, MessageEvent, NotFoundException, Param, Sse } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { GLOBAL_EVENT_TYPES, type LiveEvent } from '@lora/contracts';
import { SweepRepository } from '@lora/db';
import { filter, interval, map, merge, Observable } from 'rxjs';
import { UuidPipe } from '../common/params';
import { LiveStreamService } from './live-stream.service';

const PING_MS = 15_000;

@ApiTags('events')
@Controller()
export class EventsController {
  constructor(
    private readonly live: LiveStreamService,
    private readonly sweeps: SweepRepository,
  ) {}

  private stream(keep: (e: LiveEvent) => boolean): Observable<MessageEvent> {
    return merge(
      this.live.events.pipe(
        filter(keep),
        map((e): MessageEvent => ({ type: e.type, data: e })),
      ),
      interval(PING_MS).pipe(map((): MessageEvent => ({ type: 'ping', data: { ts: new Date().toISOString() } }))),
    );
  }

  @Sse('events')
  @ApiOperation({ summary: 'Live stream (server-sent events) of every sweep: `sweep` and `trial` events' })
  all(): Observable<MessageEvent> {
    return this.stream((e) => GLOBAL_EVENT_TYPES.has(e.type));
  }

  @Sse('sweeps/:id/events')
  @ApiOperation({
    summary: 'Live stream (server-sent events) of one sweep: `sweep`, `trial`, `metrics`, `log`, `importance`, `ranks`, `checkpoint`',
  })
  async sweep(@Param('id', UuidPipe) id: string): Promise<Observable<MessageEvent>> {
    if (!(await this.sweeps.findStatus(id))) throw new NotFoundException(`sweep ${id} not found`);
    return this.stream((e) => e.sweepId === id);
  }
}
