// POST/GET /sweeps.
import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiCreatedResponse,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { SweepSpecSchema, type SweepSpec } from '@lora/contracts';
import type { Response } from 'express';
import { z } from 'zod';
import { PageQuerySchema, UuidPipe } from '../common/params';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { TrialControlService } from '../trials/trial-control.service';
import { SweepSummarySchema, TrialsPageSchema } from './sweep.openapi';
import { SweepsService } from './sweeps.service';

const IdempotencyKey = new ZodValidationPipe(
  z
    .string()
    .min(1)
    .max(200)
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
    .optional(),
  'Idempotency-Key header',
  'Idempotency-Key',
);

const LeaderboardQuery = z
  .object({
    take: z.coerce.number().int().min(1).max(1000).default(50),
    metric: z.enum(['eval_loss', 'best_eval_loss', 'tokens_per_sec', 'trainable_params']).optional(),
    mode: z.enum(['min', 'max']).optional(),
  })
  .strict();

@ApiTags('sweeps')
@Controller('sweeps')
export class SweepsController {
  constructor(
    private readonly sweeps: SweepsService,
    private readonly control: TrialControlService,
  ) {}

  @Post(':id/cancel')
  @HttpCode(202)
  @ApiOperation({ summary: 'Cancel every unfinished trial of the sweep' })
  cancel(@Param('id', UuidPipe) id: string) {
    return this.control.cancelSweep(id);
  }

  @Post(':id/rerun-failed')
  @HttpCode(202)
  @ApiOperation({ summary: 'Run the failed and cancelled trials of the sweep again' })
  rerunFailed(@Param('id', UuidPipe) id: string) {
    return this.control.rerunFailed(id);
  }

  @Get(':id/leaderboard')
  @ApiOperation({ summary: "Trials ranked by a metric (default the sweep's: eval_loss, lower is better); unfinished trials last" })
  leaderboard(
    @Param('id', UuidPipe) id: string,
    @Query(new ZodValidationPipe(LeaderboardQuery, 'query')) q: z.output<typeof LeaderboardQuery>,
  ) {
    return this.sweeps.leaderboard(id, q.take, q.metric, q.mode);
  }

  @Get(':id/trials')
  @ApiOperation({ summary: "A page of the sweep's trials in index order (take ≤ 500, skip), with the total" })
  @ApiOkResponse({ schema: TrialsPageSchema })
  @ApiNotFoundResponse({ description: 'no sweep with this id' })
  trials(@Param('id', UuidPipe) id: string, @Query(new ZodValidationPipe(PageQuerySchema, 'query')) q: { take: number; skip: number }) {
    return this.sweeps.trials(id, q.take, q.skip);
  }

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Submit a sweep: validates, stores sweep + trials, enqueues train jobs' })
  @ApiBody({ schema: z.toJSONSchema(SweepSpecSchema, { io: 'input', unrepresentable: 'any' }) as object })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'repeat-safe submission: the same key returns the same sweep' })
  @ApiCreatedResponse({ description: 'the new sweep (summary; its trials at GET /sweeps/{id}/trials)', schema: SweepSummarySchema })
  @ApiOkResponse({
    description: 'an Idempotency-Key replay: the sweep submitted before with this key and body',
    schema: SweepSummarySchema,
  })
  @ApiBadRequestResponse({ description: 'the body is invalid: `errors` names each field' })
  async submit(
    @Body(new ZodValidationPipe(SweepSpecSchema, 'sweep')) spec: SweepSpec,
    @Headers('idempotency-key') rawKey: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ) {
    const key = IdempotencyKey.transform(rawKey);
    const { created, sweep } = await this.sweeps.submit(spec, key);
    if (!created) res.status(200);
    return sweep;
  }

  @Get()
  @ApiOperation({ summary: 'List sweeps, newest first, with progress' })
  list(@Query(new ZodValidationPipe(PageQuerySchema, 'query')) q: { take: number; skip: number }) {
    return this.sweeps.list(q.take, q.skip);
  }

  @Get(':id')
  @ApiOperation({
    summary: 'A sweep: its fields, progress (trial counts per status) and best trial; its trials at GET /sweeps/{id}/trials',
  })
  @ApiOkResponse({ schema: SweepSummarySchema })
  @ApiBadRequestResponse({ description: 'the id is not a UUID' })
  @ApiNotFoundResponse({ description: 'no sweep with this id' })
  get(@Param('id', UuidPipe) id: string) {
    return this.sweeps.get(id);
  }
}
