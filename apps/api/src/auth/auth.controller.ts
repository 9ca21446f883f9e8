// The dashboard's login: POST /auth/session trades an API token for an HttpOnly, SameSite=Strict
// cookie holding it (so fetch, EventSource and bull-board pages are authenticated alike);
// DELETE logs out; GET says who is logged in.
import { Body, Controller, Delete, Get, HttpCode, Inject, Post, Req, Res, UnauthorizedException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { APP_CONFIG, type AppConfig } from '@lora/config';
import { ApiTokenRepository } from '@lora/db';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { AuthService, Public, SESSION_COOKIE } from './auth.guard';

const LoginBody = z.object({ token: z.string().min(1).max(200) }).strict();

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly tokens: ApiTokenRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Public()
  @Get('session')
  @ApiOperation({ summary: 'Who the request is authenticated as, and whether reads need a token' })
  async session(@Req() req: Request) {
    const who = await this.auth.identify(req);
    return { authenticated: who !== null, name: who?.name ?? null, readsNeedToken: this.auth.readsNeedToken };
  }

  @Public()
  @Post('session')
  @HttpCode(204)
  @ApiOperation({ summary: 'Log in with an API token: sets an HttpOnly session cookie' })
  async login(
    @Body(new ZodValidationPipe(LoginBody, 'login body')) body: z.output<typeof LoginBody>,
    @Res({ passthrough: true }) res: Response,
  ) {
    const who = await this.tokens.verify(body.token.trim());
    if (!who) throw new UnauthorizedException('the API token is unknown or revoked');
    res.cookie(SESSION_COOKIE, body.token.trim(), {
      httpOnly: true,
      sameSite: 'strict',
      secure: this.config.api.cookieSecure,
      path: '/',
      maxAge: 30 * 24 * 3600 * 1000,
    });
  }

  @Public()
  @Delete('session')
  @HttpCode(204)
  @ApiOperation({ summary: 'Log out: clears the session cookie' })
  logout(@Res({ passthrough: true }) res: Response) {
    res.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure: this.config.api.cookieSecure });
  }
}
