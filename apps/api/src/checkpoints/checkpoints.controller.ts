// GET /checkpoints/:id/download: the adapter as a PEFT folder (zip), or one of its two files.
import { Controller, Get, NotFoundException, Param, Query, Res, StreamableFile } from '@nestjs/common';
import type { Response } from 'express';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { CheckpointRepository } from '@lora/db';
import { zipSync } from 'fflate';
import { z } from 'zod';
import { UuidPipe } from '../common/params';
import { MergedModelService } from './merged-model.service';
import { ZodValidationPipe } from '../common/zod-validation.pipe';

const DownloadQuery = z
  .object({
    format: z.enum(['peft', 'merged']).default('peft'),
    file: z.enum(['zip', 'adapter_model.safetensors', 'adapter_config.json']).default('zip'),
  })
  .strict();

@ApiTags('checkpoints')
@Controller('checkpoints')
export class CheckpointsController {
  constructor(
    private readonly checkpoints: CheckpointRepository,
    private readonly merged: MergedModelService,
  ) {}

  @Get(':id/download')
  @ApiOperation({
    summary:
      'Download a checkpoint: the PEFT adapter folder (zip), one file of it, or ?format=merged for the base model with the adapter merged in',
  })
  @ApiQuery({ name: 'format', required: false, enum: ['peft', 'merged'] })
  @ApiQuery({ name: 'file', required: false, enum: ['zip', 'adapter_model.safetensors', 'adapter_config.json'] })
  async download(
    @Param('id', UuidPipe) id: string,
    @Query(new ZodValidationPipe(DownloadQuery, 'query')) q: z.output<typeof DownloadQuery>,
    @Res({ passthrough: true }) res: Response,
  ) {
    const c = await this.checkpoints.findWithBytes(id);
    if (!c) throw new NotFoundException(`checkpoint ${id} not found`);
    const weights = new Uint8Array(c.bytes);
    const config = Buffer.from(JSON.stringify(c.adapterConfig, null, 2) + '\n');
    const folder = `trial-${c.trialId.slice(0, 8)}-step-${c.step}`;
    res.setHeader('X-Checkpoint-Sha256', c.sha256);
    res.setHeader('X-Checkpoint-Step', String(c.step));
    if (q.format === 'merged') {
      // The base model with this adapter folded in, as a Hugging Face model folder.
      const files = await this.merged.merge({
        baseModelPath: c.trial.sweep.baseModel.path,
        adapterConfig: c.adapterConfig as Record<string, unknown>,
        safetensors: weights,
      });
      const name = `merged-${c.trialId.slice(0, 8)}-step-${c.step}`;
      return new StreamableFile(zipSync({ [name]: files }, { level: 0 }), {
        type: 'application/zip',
        disposition: `attachment; filename="${name}.zip"`,
      });
    }
    if (q.file === 'adapter_model.safetensors') {
      return new StreamableFile(weights, {
        type: 'application/octet-stream',
        disposition: 'attachment; filename="adapter_model.safetensors"',
      });
    }
    if (q.file === 'adapter_config.json') {
      return new StreamableFile(config, { type: 'application/json', disposition: 'attachment; filename="adapter_config.json"' });
    }
    const zip = zipSync({ [folder]: { 'adapter_config.json': config, 'adapter_model.safetensors': weights } }, { level: 0 });
    return new StreamableFile(zip, { type: 'application/zip', disposition: `attachment; filename="${folder}.zip"` });
  }
}
