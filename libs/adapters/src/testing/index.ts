export * from './parity';
