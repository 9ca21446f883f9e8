export * from './queues';
export * from './variants';
export * from './variant-knobs';
export * from './sweep.schema';
export * from './trial';
export * from './target-modules';
export * from './distributions';
export * from './early-stopping.schema';
