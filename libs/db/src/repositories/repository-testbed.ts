// For repository specs: a freshly migrated schema, the repositories module on it, and one base
// model and one dataset for sweeps to point at. `close()` shuts the module and drops the schema.
import { Test, TestingModule } from '@nestjs/testing';
import { DbModule } from '../db.module';
import { PrismaService } from '../prisma.service';
import { createTestSchema, TestSchema } from '../testing';
import { RepositoriesModule } from './repositories.module';

export interface RepositoryTestbed {
  db: TestSchema;
  moduleRef: TestingModule;
  prisma: PrismaService;
  /** Base model 'm' at /models/m. */
  baseModelId: string;
  /** Dataset 'd': stdlib:moby-dick, validation fraction 0.1, split seed 7. */
  datasetId: string;
  close(): Promise<void>;
}

export async function createRepositoryTestbed(): Promise<RepositoryTestbed> {
  const db = await createTestSchema();
  const moduleRef = await Test.createTestingModule({
    imports: [DbModule.forRoot({ databaseUrl: db.connectionString, databaseSchema: db.schema }), RepositoriesModule],
  }).compile();
  await moduleRef.init();
  const prisma = moduleRef.get(PrismaService);
  const baseModel = await prisma.baseModel.create({
    data: { name: 'm', path: '/models/m', architecture: 'gpt2', config: {}, paramCount: 1 },
  });
  const dataset = await prisma.dataset.create({
    data: { name: 'd', source: 'stdlib:moby-dick', format: 'text', validationFraction: 0.1, splitSeed: 7 },
  });
  return {
    db,
    moduleRef,
    prisma,
    baseModelId: baseModel.id,
    datasetId: dataset.id,
    async close() {
      await moduleRef.close();
      await db.drop();
    },
  };
}
