// What the API serves besides its JSON routes: the dashboard (static files built by Vite) at /,
// and bull-board (BullMQ's queue UI, for operators) at /admin/queues behind the same API tokens.
import { getQueueToken } from '@nestjs/bullmq';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { QueueName, TRAIN_QUEUES } from '@lora/contracts';
import type { Queue } from 'bullmq';
import type { Express, NextFunction, Request, Response } from 'express';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AuthService, type AuthedRequest } from './auth/auth.guard';

export const BULL_BOARD_PATH = '/admin/queues';

export function mountDashboard(app: NestExpressApplication, dir: string): boolean {
  const index = path.join(dir, 'index.html');
  if (!fs.existsSync(index)) {
    (app.getHttpAdapter().getInstance() as Express).get('/', (_req: Request, res: Response) => {
      res
        .status(503)
        .type('text/plain')
        .send(`The dashboard is not built (no ${index}). Run \`npm run build\`; the API itself is up (see /docs).`);
    });
    return false;
  }
  // Hashed asset names never change content: cache them; index.html is always revalidated.
  app.useStaticAssets(dir, {
    index: 'index.html',
    setHeaders: (res, file) => {
      res.setHeader('Cache-Control', file.endsWith('index.html') ? 'no-cache' : 'public, max-age=31536000, immutable');
    },
  });
  return true;
}

export function mountBullBoard(app: NestExpressApplication): void {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  const queues = [...TRAIN_QUEUES, QueueName.Plan].map((n) => new BullMQAdapter(app.get<Queue>(getQueueToken(n))));
  createBullBoard({ queues, serverAdapter, options: { uiConfig: { boardTitle: 'LoRA queues' } } });
  const auth = app.get(AuthService);
  // bull-board lets its user retry, promote and remove jobs: every request needs a token.
  const guard = (req: Request, res: Response, next: NextFunction) => {
    const r = req as AuthedRequest;
    auth
      .identify(r)
      .then((who) => {
        if (who) {
          r.token = who;
          return next();
        }
        res
          .status(401)
          .type('text/html')
          .send('<p>The queue board needs an API token. <a href="/">Log in on the dashboard</a>, then come back.</p>');
      })
      .catch(next);
  };
  app.use(BULL_BOARD_PATH, guard, serverAdapter.getRouter());
}
