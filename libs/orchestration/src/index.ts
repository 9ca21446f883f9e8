export * from './sweep-expansion';
export * from './catalog';
export * from './early-stopping';
export * from './loradrop-planning';
