import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';
import { freePort } from '../../scripts/local-infra';
import { MailSink, startMailSink } from '../support/mail';
import { isolatedRedisUrl } from '../support/redis';
import { eventually } from '../support/inference';

const DIST = join(__dirname, '../../dist');
export const ARTIFACTS = join(__dirname, '../../test-artifacts/console');

/**
 * The stack a browser talks to: the api and the worker as processes from dist/ (`npm run build`
 * first: it builds the console into dist/web too), on a Redis database of this file's own, sending
 * mail to a sink of its own. PostgreSQL is the suite's (global setup).
 */
export interface ConsoleStack {
  port: number;
  baseUrl: string;
  sink: MailSink;
  /** `http://<domain>:<port>` */
  origin(domain: string): string;
  close(): Promise<void>;
}

export async function startConsoleStack(env: Record<string, string> = {}): Promise<ConsoleStack> {
  for (const file of ['src/main.js', 'src/worker.js', 'web/index.html']) {
    if (!existsSync(join(DIST, file))) throw new Error(`dist/${file} is missing: run npm run build first`);
  }
  const sink = await startMailSink();
  const redis = await isolatedRedisUrl();
  const port = await freePort();
  const common = { ...process.env, REDIS_URL: redis, SMTP_URL: sink.url, LOG_LEVEL: 'warn', METRICS_PORT: '0', ...env };
  const processes: ChildProcess[] = [];
  const start = (file: string, extra: Record<string, string>) => {
    const child = spawn(process.execPath, [join(DIST, file)], { env: { ...common, ...extra }, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (chunk: Buffer) => {
      if (process.env.TEST_LOG_LEVEL) process.stderr.write(chunk);
    });
    processes.push(child);
  };
  start('src/main.js', { PORT: String(port), PUBLIC_URL: `http://localhost:${port}`, CONSOLE_DIR: join(DIST, 'web') });
  start('src/worker.js', { WORKER_PORT: String(await freePort()) });
  const baseUrl = `http://127.0.0.1:${port}`;
  await eventually(async () => (await fetch(`${baseUrl}/health/live`).catch(() => undefined))?.ok === true, 'the api to listen', 60_000);
  return {
    port,
    baseUrl,
    sink,
    origin: (domain) => `http://${domain}:${port}`,
    close: async () => {
      await Promise.all(
        processes.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null) return resolve();
              child.once('exit', () => resolve());
              child.kill('SIGTERM');
            }),
        ),
      );
      await sink.close();
    },
  };
}

/** Debian's chromium (no browser download); no sandbox when running as root. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export async function newContext(browser: Browser, viewport = DESKTOP, locale = 'en-US'): Promise<BrowserContext> {
  return browser.newContext({ viewport, locale, timezoneId: 'Asia/Shanghai', deviceScaleFactor: 1 });
}

/** axe-core on the page as it is: the serious and critical violations (expected to be none). */
export async function seriousViolations(page: Page): Promise<string[]> {
  // A dialog or message still fading in has text at partial opacity, which axe reports as low
  // contrast: judge the page once its animations and transitions have finished.
  // (Endless ones, such as a spinner, never finish and are left out.)
  // A button still under the mouse shows its lighter hover colour: the page is judged at rest.
  await page.mouse.move(0, 0);
  // (page.evaluate, not waitForFunction: the console's CSP refuses the eval that one needs, and
  // the refusal used to be swallowed, so nothing waited.)
  await page
    .evaluate(async () => {
      type Animations = { getAnimations(): Array<{ playState: string; effect: { getTiming(): { iterations?: number } } | null }> };
      const document = (globalThis as unknown as { document: Animations }).document;
      const settled = () => document.getAnimations().every((a) => a.playState !== 'running' || a.effect?.getTiming().iterations === Infinity);
      for (const deadline = Date.now() + 10_000; !settled() && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 50));
    })
    .catch(() => undefined); // a page navigating away: axe judges what is there
  // Toasts (antd's message: dark text on white once shown) are left out: one fades in, stays 3 s and
  // fades out, and on a loaded machine axe caught it mid-fade, at partial opacity, whatever was waited for.
  const result = await new AxeBuilder({ page }).exclude('.ant-message').analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')})`);
}
