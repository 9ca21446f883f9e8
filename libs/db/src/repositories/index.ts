export * from './catalog.repository';
export * from './sweep.repository';
export * from './trial.repository';
export * from './metric.repository';
export * from './checkpoint.repository';
export * from './worker.repository';
export * from './repositories.module';
