export * from './train-queue.service';
export * from './queue.module';
