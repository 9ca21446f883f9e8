// lora token create | list | revoke: operator commands that talk to Postgres directly (with the
// server's DATABASE_URL and DATABASE_SCHEMA), since the first token cannot need a token to make.
import { ConfigError, loadConfig } from '@lora/config';
import type { ApiTokenRepository } from '@lora/db';
import type { Context } from '../context';
import { CliError, EXIT, UsageError } from '../errors';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

async function withTokens<T>(ctx: Context, f: (repo: ApiTokenRepository) => Promise<T>): Promise<T> {
  let config;
  try {
    config = loadConfig(ctx.deps.env ?? process.env);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
  // Loaded here only: the other commands talk HTTP and need no database driver.
  const db = await import('@lora/db');
  const opts = { databaseUrl: config.db.databaseUrl, databaseSchema: config.db.databaseSchema };
  try {
    await db.assertMigrated({ connectionString: opts.databaseUrl, schema: opts.databaseSchema });
  } catch (e) {
    throw new CliError(`cannot use the database (${(e as Error).message})`, EXIT.failure);
  }
  const prisma = db.createPrismaClient(opts);
  try {
    return await f(new db.ApiTokenRepository(prisma as unknown as ConstructorParameters<typeof db.ApiTokenRepository>[0]));
  } finally {
    await prisma.$disconnect();
  }
}

export async function tokenCreateCmd(ctx: Context, opts: { name: string }): Promise<number> {
  if (!NAME.test(opts.name)) throw new UsageError(`--name: "${opts.name}" must be 1-64 letters, digits, '.', '_' or '-'`);
  return withTokens(ctx, async (repo) => {
    let t;
    try {
      t = await repo.create(opts.name);
    } catch (e) {
      if ((e as { code?: string }).code === 'P2002')
        throw new CliError(`a token named "${opts.name}" already exists (revoke it or pick another name)`, EXIT.usage);
      throw e;
    }
    if (ctx.json) ctx.printJson(t);
    else {
      ctx.print(t.token);
      ctx.note(`token "${t.name}" created; it is shown only now. Use it as LORA_API_TOKEN, or log in with it on the dashboard.`);
    }
    return EXIT.ok;
  });
}

export async function tokenListCmd(ctx: Context): Promise<number> {
  return withTokens(ctx, async (repo) => {
    const rows = await repo.list();
    if (ctx.json) ctx.printJson(rows);
    else if (rows.length === 0) ctx.print('no tokens (create one with `lora token create --name <name>`)');
    else {
      ctx.print(['NAME', 'PREFIX', 'CREATED', 'LAST USED', 'STATE'].join('\t'));
      for (const r of rows)
        ctx.print(
          [r.name, `${r.prefix}…`, r.createdAt.toISOString(), r.lastUsedAt?.toISOString() ?? '-', r.revokedAt ? 'revoked' : 'live'].join(
            '\t',
          ),
        );
    }
    return EXIT.ok;
  });
}

export async function tokenRevokeCmd(ctx: Context, name: string): Promise<number> {
  return withTokens(ctx, async (repo) => {
    if (!(await repo.revoke(name))) throw new CliError(`no live token named "${name}"`, EXIT.failure);
    if (ctx.json) ctx.printJson({ revoked: name });
    else ctx.print(`token "${name}" revoked`);
    return EXIT.ok;
  });
}
