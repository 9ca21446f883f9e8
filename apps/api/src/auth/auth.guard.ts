// Who may do what: every write (any method but GET/HEAD/OPTIONS) needs a live API token; reads
// need one too when AUTH_READS=token. The token comes as `Authorization: Bearer <token>` (CLI,
// scripts) or in the HttpOnly session cookie the dashboard gets from POST /auth/session.
import { CanActivate, ExecutionContext, Inject, Injectable, SetMetadata, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { APP_CONFIG, type AppConfig } from '@lora/config';
import { ApiTokenRepository, type TokenIdentity } from '@lora/db';
import type { Request } from 'express';

export const SESSION_COOKIE = 'lora_session';
const PUBLIC_KEY = 'auth:public';

/** Marks a route as open to anyone (health, login). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

export type AuthedRequest = Request & { token?: TokenIdentity };

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The bearer token or the session cookie of a request, if any. */
export function tokenOf(req: Request): string | undefined {
  const h = req.headers.authorization;
  if (h) {
    const m = /^Bearer\s+(\S+)$/i.exec(h);
    return m?.[1];
  }
  const c = (req as Request & { cookies?: Record<string, string> }).cookies?.[SESSION_COOKIE];
  return typeof c === 'string' && c.length > 0 ? c : undefined;
}

@Injectable()
export class AuthService {
  constructor(
    private readonly tokens: ApiTokenRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  get readsNeedToken(): boolean {
    return this.config.api.authReads === 'token';
  }

  /** The token's identity, or null when the request carries none or a dead one. */
  async identify(req: Request): Promise<TokenIdentity | null> {
    const t = tokenOf(req);
    return t ? this.tokens.verify(t) : null;
  }

  /** Throws 401 unless the request may go on; attaches the identity when there is one. */
  async authorize(req: AuthedRequest, isPublic = false): Promise<void> {
    if (isPublic) return;
    const needs = !READ_METHODS.has(req.method.toUpperCase()) || this.readsNeedToken;
    if (!needs) return;
    const carried = tokenOf(req);
    if (!carried) {
      throw new UnauthorizedException(
        READ_METHODS.has(req.method.toUpperCase())
          ? 'reads need an API token on this server: send "Authorization: Bearer <token>" or log in on the dashboard'
          : 'writes need an API token: send "Authorization: Bearer <token>" (create one with `lora token create --name <name>`) or log in on the dashboard',
      );
    }
    const who = await this.tokens.verify(carried);
    if (!who) throw new UnauthorizedException('the API token is unknown or revoked');
    req.token = who;
  }
}

@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly auth: AuthService,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, [ctx.getHandler(), ctx.getClass()]) ?? false;
    await this.auth.authorize(ctx.switchToHttp().getRequest<AuthedRequest>(), isPublic);
    return true;
  }
}
