// Body-parser and other middleware raise `http-errors` objects (413 too large, 415 charset, 400
// malformed JSON). Nest answers them with the right status but logs them as server errors with a
// stack; they are the client's mistake: answer the same JSON 4xx, without the error log.
import { ArgumentsHost, Catch, HttpException } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';

@Catch()
export class ClientErrorsFilter extends BaseExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): void {
    const e = exception as { status?: unknown; expose?: unknown; message?: unknown };
    if (!(exception instanceof HttpException) && typeof e.status === 'number' && e.status >= 400 && e.status < 500 && e.expose === true) {
      const message = typeof e.message === 'string' ? e.message : 'bad request';
      return super.catch(new HttpException({ statusCode: e.status, message }, e.status), host);
    }
    return super.catch(exception, host);
  }
}
