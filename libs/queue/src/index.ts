export * from './train-queue.service';
export * from './queue.module';
export * from './live-events.service';
