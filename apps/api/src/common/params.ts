// Shared parsing for ids and pagination query parameters.
import { z } from 'zod';
import { ZodValidationPipe } from './zod-validation.pipe';

export const UuidPipe = new ZodValidationPipe(z.uuid('must be a UUID'), 'id', 'id');

export const PageQuerySchema = z
  .object({
    take: z.coerce.number().int().min(1).max(500).default(50),
    skip: z.coerce.number().int().min(0).default(0),
  })
  .loose();
