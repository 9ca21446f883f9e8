// API tokens: only a SHA-256 of each token is stored (tokens are 256-bit random, so a fast hash
// is enough, as GitHub and npm do); the token itself is shown once, when it is created.
import { Injectable } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { PrismaService } from '../prisma.service';

export const TOKEN_PREFIX = 'lora_';

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function newToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export interface TokenIdentity {
  id: string;
  name: string;
}

@Injectable()
export class ApiTokenRepository {
  /** lastUsedAt is written at most this often per token, not on every request. */
  private static readonly TOUCH_MS = 60_000;
  private readonly touched = new Map<string, number>();

  constructor(private readonly prisma: PrismaService) {}

  /** Creates a token named `name`; returns the token (the only time it exists in clear). */
  async create(name: string): Promise<{ id: string; name: string; token: string; prefix: string }> {
    const token = newToken();
    const prefix = token.slice(0, TOKEN_PREFIX.length + 6);
    const row = await this.prisma.apiToken.create({ data: { name, tokenHash: hashToken(token), prefix } });
    return { id: row.id, name: row.name, token, prefix };
  }

  /** The live token matching `token`, or null (unknown or revoked). */
  async verify(token: string): Promise<TokenIdentity | null> {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return null;
    const row = await this.prisma.apiToken.findUnique({ where: { tokenHash: hashToken(token) } });
    if (!row || row.revokedAt) return null;
    const now = Date.now();
    if (now - (this.touched.get(row.id) ?? 0) > ApiTokenRepository.TOUCH_MS) {
      this.touched.set(row.id, now);
      await this.prisma.apiToken.update({ where: { id: row.id }, data: { lastUsedAt: new Date(now) } }).catch(() => undefined);
    }
    return { id: row.id, name: row.name };
  }

  list() {
    return this.prisma.apiToken.findMany({
      orderBy: { createdAt: 'asc' },
      select: { id: true, name: true, prefix: true, createdAt: true, lastUsedAt: true, revokedAt: true },
    });
  }

  /** Revokes the token with this name; false when there is no live token of that name. */
  async revoke(name: string): Promise<boolean> {
    const r = await this.prisma.apiToken.updateMany({ where: { name, revokedAt: null }, data: { revokedAt: new Date() } });
    return r.count > 0;
  }
}
