import { Module } from '@nestjs/common';
import { RepositoriesModule } from '@lora/db';
import { CatalogController } from './catalog.controller';
import { CatalogService } from './catalog.service';

@Module({ imports: [RepositoriesModule], controllers: [CatalogController], providers: [CatalogService] })
export class CatalogModule {}
