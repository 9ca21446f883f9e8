export * from './sweep-expansion';
export * from './catalog';
