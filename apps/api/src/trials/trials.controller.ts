// GET /trials/:id, its metrics and checkpoints.
import { Body, Controller, Get, HttpCode, NotFoundException, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  CheckpointRepository,
  ImportanceRepository,
  MetricRepository,
  PlanRepository,
  RankBudgetRepository,
  TrialLogRepository,
  TrialRepository,
} from '@lora/db';
import { storableText } from '@lora/contracts';
import { z } from 'zod';
import { UuidPipe } from '../common/params';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { ReplanService } from './replan.service';
import { TrialControlService } from './trial-control.service';

const MetricsQuery = z
  .object({
    name: storableText(z.string().max(100)).optional(),
    split: z.enum(['train', 'eval']).optional(),
    // Steps are Postgres int4: a larger bound would fail in the query (500), not match nothing.
    afterStep: z.coerce
      .number()
      .int()
      .min(-1)
      .max(2 ** 31 - 1)
      .optional(),
    take: z.coerce.number().int().min(1).max(100_000).default(10_000),
  })
  .strict();

const LogsQuery = z
  .object({
    afterId: z
      .string()
      .regex(/^\d{1,18}$/, 'a log line id (digits)')
      .optional(),
    take: z.coerce.number().int().min(1).max(10_000).default(1000),
  })
  .strict();

const ReplanBody = z
  .object({
    threshold: z.number().gt(0).max(1).optional(),
    topN: z.number().int().positive().optional(),
  })
  .strict()
  .refine((b) => (b.threshold === undefined) !== (b.topN === undefined), {
    message: 'give exactly one of threshold or topN',
    path: ['threshold'],
  });

@ApiTags('trials')
@Controller('trials')
export class TrialsController {
  constructor(
    private readonly trials: TrialRepository,
    private readonly metrics: MetricRepository,
    private readonly checkpoints: CheckpointRepository,
    private readonly control: TrialControlService,
    private readonly importance: ImportanceRepository,
    private readonly plans: PlanRepository,
    private readonly rankBudgets: RankBudgetRepository,
    private readonly replans: ReplanService,
    private readonly logs: TrialLogRepository,
  ) {}

  @Post(':id/replan')
  @HttpCode(202)
  @ApiOperation({ summary: "LoRA-drop: a new selection from a probe's stored importance (no new probe run) and a full run that trains it" })
  replan(@Param('id', UuidPipe) id: string, @Body(new ZodValidationPipe(ReplanBody, 'replan body')) body: z.output<typeof ReplanBody>) {
    return this.replans.replan(id, body);
  }

  @Get(':id/importance')
  @ApiOperation({
    summary:
      "LoRA-drop: the probe's importance per module (normalised to sum 1, rank 1 = most important) and the plans (selections) made from it",
  })
  async getImportance(@Param('id', UuidPipe) id: string) {
    await this.mustBeKnown(id);
    const [modules, plans] = await Promise.all([this.importance.list(id), this.plans.listForProbe(id)]);
    return { modules, plans };
  }

  @Get(':id/rank-budget')
  @ApiOperation({ summary: "AdaLoRA: each budget step's total budget and per-module rank, and the final rank pattern" })
  async getRankBudget(@Param('id', UuidPipe) id: string) {
    const trial = await this.mustExist(id);
    return { history: await this.rankBudgets.history(id), rankPattern: trial.rankPattern };
  }

  @Post(':id/cancel')
  @HttpCode(202)
  @ApiOperation({ summary: 'Cancel a trial: a queued one is dropped, a running one stops within seconds on whatever worker runs it' })
  cancel(@Param('id', UuidPipe) id: string) {
    return this.control.cancelTrial(id);
  }

  @Post(':id/rerun')
  @HttpCode(202)
  @ApiOperation({ summary: 'Run a finished trial again from scratch (its metrics and checkpoints are replaced; attempts stay)' })
  rerun(@Param('id', UuidPipe) id: string) {
    return this.control.rerunTrial(id);
  }

  private async mustExist(id: string) {
    const trial = await this.trials.findById(id);
    if (!trial) throw new NotFoundException(`trial ${id} not found`);
    return trial;
  }

  /** A 404 for an unknown trial without loading it (its attempts and sweep): for the routes that read its rows. */
  private async mustBeKnown(id: string): Promise<void> {
    if (!(await this.trials.exists(id))) throw new NotFoundException(`trial ${id} not found`);
  }

  @Get(':id')
  @ApiOperation({ summary: 'A trial with its hyperparameters, status and attempts' })
  get(@Param('id', UuidPipe) id: string) {
    return this.mustExist(id);
  }

  @Get(':id/metrics')
  @ApiOperation({ summary: 'Metric points of a trial (filter by name, split; page with afterStep)' })
  async getMetrics(
    @Param('id', UuidPipe) id: string,
    @Query(new ZodValidationPipe(MetricsQuery, 'query')) q: z.output<typeof MetricsQuery>,
  ) {
    await this.mustBeKnown(id);
    return this.metrics.list(id, q);
  }

  @Get(':id/logs')
  @ApiOperation({ summary: "A trial's log lines, oldest first (page with afterId: the last id you have)" })
  async getLogs(@Param('id', UuidPipe) id: string, @Query(new ZodValidationPipe(LogsQuery, 'query')) q: z.output<typeof LogsQuery>) {
    await this.mustBeKnown(id);
    return this.logs.list(id, q);
  }

  @Get(':id/checkpoints')
  @ApiOperation({ summary: 'Checkpoints of a trial (metadata; download through /checkpoints/:id/download)' })
  async getCheckpoints(@Param('id', UuidPipe) id: string) {
    await this.mustBeKnown(id);
    return this.checkpoints.listForTrial(id);
  }
}
