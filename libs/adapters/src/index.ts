export * from './adapter';
export * from './adapter-set';
export * from './lora';
