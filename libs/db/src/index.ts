export * from './generated/prisma/client';
export * from './prisma.service';
export * from './db.module';
export * from './migrate';
export * from './testing';
export * from './repositories';
