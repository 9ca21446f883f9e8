// GET /models and /datasets: what a sweep may name.
import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { CatalogRepository } from '@lora/db';

@ApiTags('catalog')
@Controller()
export class CatalogController {
  constructor(private readonly catalog: CatalogRepository) {}

  @Get('models')
  @ApiOperation({ summary: 'Registered base models' })
  models() {
    return this.catalog.listBaseModels();
  }

  @Get('datasets')
  @ApiOperation({ summary: 'Registered datasets' })
  datasets() {
    return this.catalog.listDatasets();
  }
}
