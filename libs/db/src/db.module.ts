import { DynamicModule, Module, ModuleMetadata } from '@nestjs/common';
import { DB_OPTIONS, DbOptions, PrismaService } from './prisma.service';

export interface DbModuleAsyncOptions {
  imports?: ModuleMetadata['imports'];
  inject?: any[];
  useFactory: (...args: any[]) => DbOptions | Promise<DbOptions>;
  /** Register globally (default true): feature modules then inject PrismaService without importing DbModule. */
  global?: boolean;
}

@Module({})
export class DbModule {
  static forRoot(opts: DbOptions, { global = true }: { global?: boolean } = {}): DynamicModule {
    return {
      module: DbModule,
      global,
      providers: [{ provide: DB_OPTIONS, useValue: opts }, PrismaService],
      exports: [PrismaService, DB_OPTIONS],
    };
  }

  static forRootAsync(opts: DbModuleAsyncOptions): DynamicModule {
    return {
      module: DbModule,
      global: opts.global ?? true,
      imports: opts.imports ?? [],
      providers: [{ provide: DB_OPTIONS, inject: opts.inject ?? [], useFactory: opts.useFactory }, PrismaService],
      exports: [PrismaService, DB_OPTIONS],
    };
  }
}
