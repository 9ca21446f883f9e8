export * from './queues';
export * from './variants';
export * from './variant-knobs';
export * from './sweep.schema';
export * from './trial';
export * from './target-modules';
