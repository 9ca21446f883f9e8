// Validates a request part against a zod schema; a failure is a 400 that names each bad field.
import { BadRequestException, PipeTransform } from '@nestjs/common';
import { formatZodIssues, type FieldError } from '@lora/contracts';
import type { z } from 'zod';

export class ValidationFailed extends BadRequestException {
  constructor(errors: FieldError[], what = 'request') {
    super({
      statusCode: 400,
      error: 'Bad Request',
      message: `Invalid ${what}: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
      errors,
    });
  }
}

export class ZodValidationPipe<S extends z.ZodTypeAny> implements PipeTransform<unknown, z.output<S>> {
  /** `field`: the name errors of the value itself are reported under (a route parameter, a header). */
  constructor(
    private readonly schema: S,
    private readonly what = 'request body',
    private readonly field?: string,
  ) {}

  transform(value: unknown): z.output<S> {
    const r = this.schema.safeParse(value);
    if (!r.success) throw new ValidationFailed(formatZodIssues(r.error, this.field ? [this.field] : []), this.what);
    return r.data;
  }
}
