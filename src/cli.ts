import 'reflect-metadata';
import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { parseArgs } from 'node:util';
import { AppConfig, requireSettings } from '@app/config';
import { migrate } from '@app/database';
import { configOrExit } from './bootstrap/http-app';
import { CliModule } from './cli.module';
import { DemoUpstreamResult, DemoUpstreamService } from './cli/demo-upstream.service';
import { PlatformSetupService, SetupError } from './cli/platform-setup.service';
import { generateSigningJwk } from './modules/auth/signing-keys';
import { ChannelKeyRotation } from './modules/channels/channel-key-rotation';
import { DeadLetterReplay } from './modules/metering/dead-letter-replay';
import { isPublicAddress, SecretBox } from '@app/providers';
import { isIP } from 'node:net';
import { TokenPrice } from '@app/money';

const USAGE = `Usage: npm run cli -- <command> [options]

Commands:
  migrate                       apply pending migrations as the owner role (DATABASE_ADMIN_URL)
  bootstrap --email E --domain D [--name N] [--slug S] [--password-env VAR]
                                create the platform tenant and its first owner (idempotent);
                                the password is read from the environment variable VAR
                                (default BOOTSTRAP_OWNER_PASSWORD), never from the command line
  seed-demo [--platform-domain D] [--reseller-domain D] [--password-env VAR] [--upstream-url U]
            [--api-key-env VAR]
                                a demo reseller with a domain and one user per role; with
                                --upstream-url (or FAKE_UPSTREAM_URL, as \`npm run dev\` sets), also
                                a channel to that OpenAI-compatible upstream, demo prices, a funded
                                wallet for the demo customer and an API key for them, printed:
                                the key in the variable VAR (default DEMO_API_KEY) when it is
                                still their active demo key, else a new one (revoking the others)
  generate-jwt-key              print a new ES256 private JWK for JWT_SIGNING_KEYS
                                (put it first to rotate; keep the old one after it until
                                its tokens expired)
  generate-channel-key          print a new AES-256 key for CHANNEL_ENCRYPTION_KEYS
  check-channel-keys            exit 1 when CHANNEL_ENCRYPTION_KEYS cannot open every stored
                                upstream key and webhook signing secret
  reencrypt-channel-keys        re-encrypt every stored upstream key and webhook signing
                                secret with the first key of CHANNEL_ENCRYPTION_KEYS (after
                                putting a new one first)
  metering replay-dead-letters  hand every tenant's dead-lettered usage events to the metering
                                writer again (idempotent: running it twice changes nothing) and
                                remove those now in the ledger; prints the counts`;

async function withChannelKeys<T>(config: AppConfig, work: (rotation: ChannelKeyRotation) => Promise<T>): Promise<T> {
  const app = await NestFactory.createApplicationContext(CliModule.forRoot(config), { logger: ['error', 'warn'] });
  try {
    return await work(app.get(ChannelKeyRotation));
  } finally {
    await app.close();
  }
}

async function withSetup<T>(config: AppConfig, work: (setup: PlatformSetupService, app: INestApplicationContext) => Promise<T>): Promise<T> {
  const app = await NestFactory.createApplicationContext(CliModule.forRoot(config), { logger: ['error', 'warn'] });
  try {
    return await work(app.get(PlatformSetupService), app);
  } finally {
    await app.close();
  }
}

/**
 * What seed-demo prints about the demo upstream. No line starts with white space (those are the
 * login lines, which scripts and tests parse); the key stands alone on the line after its label.
 */
export function demoUpstreamLines(upstream: DemoUpstreamResult, resellerSlug: string): string[] {
  const price = (p: TokenPrice) => `input ${p.inputPerMillion}, output ${p.outputPerMillion}${p.cacheReadPerMillion ? `, cached input ${p.cacheReadPerMillion}` : ''} per million tokens`;
  return [
    `demo upstream: channel "${upstream.channel.name}" -> ${upstream.channel.baseUrl} (${upstream.channel.outcome}), models ${upstream.models.join(', ')}`,
    `demo prices: ${upstream.platformPricesAdded.length ? `platform list added for ${upstream.platformPricesAdded.join(', ')}` : 'platform list kept'}; ` +
      `reseller "${resellerSlug}" sells ${upstream.retail.model} at ${price(upstream.retail.price)} (${upstream.retail.added ? 'set now' : 'kept'})`,
    `demo wallet: ${upstream.customerEmail} ${upstream.wallet.credited ? `credited ${upstream.wallet.amount}` : `was funded with ${upstream.wallet.amount} by an earlier run`}; ledger balance ${upstream.wallet.balance}`,
    upstream.key.kept
      ? `demo API key of ${upstream.customerEmail} (kept: the key given is still their active demo key):`
      : `demo API key of ${upstream.customerEmail} (new: the earlier demo keys are revoked; revoked now: ${upstream.key.revoked}):`,
    upstream.key.secret,
  ];
}

/** False for a loopback name or a non-public address literal, which channels refuse by default. */
function reachableByDefault(baseUrl: string): boolean {
  const host = new URL(baseUrl).hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return false;
  return isIP(host) === 0 || isPublicAddress(host);
}

function secretFromEnv(variable: string): string {
  const value = process.env[variable];
  if (!value) throw new SetupError(`Set the password in the environment variable ${variable}.`);
  return value;
}

export async function runCli(argv: string[], config: AppConfig, out: (line: string) => void = console.log): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'migrate': {
      await migrate({
        adminUrl: requireSettings(config, ['DATABASE_ADMIN_URL'], 'cli migrate').DATABASE_ADMIN_URL,
        loginUrls: { app: config.DATABASE_URL, system: config.DATABASE_SYSTEM_URL },
        log: out,
      });
      return 0;
    }
    case 'bootstrap': {
      const { values } = parseArgs({
        args: rest,
        options: {
          email: { type: 'string' },
          domain: { type: 'string' },
          name: { type: 'string' },
          slug: { type: 'string' },
          'password-env': { type: 'string', default: 'BOOTSTRAP_OWNER_PASSWORD' },
        },
      });
      if (!values.email) throw new SetupError('bootstrap needs --email.');
      const password = secretFromEnv(values['password-env']!);
      const result = await withSetup(config, (setup) =>
        setup.bootstrap({ email: values.email!, password, domain: values.domain, name: values.name, slug: values.slug }),
      );
      out(`${result.tenantCreated ? 'created' : 'found'} platform tenant "${result.tenant.slug}" (${result.tenant.id})`);
      out(`${result.owner.created ? 'created' : 'kept existing'} owner ${result.owner.user.email}`);
      return 0;
    }
    case 'seed-demo': {
      const { values } = parseArgs({
        args: rest,
        options: {
          'platform-domain': { type: 'string', default: 'localhost' },
          'reseller-domain': { type: 'string', default: 'demo.localhost' },
          'password-env': { type: 'string', default: 'DEMO_PASSWORD' },
          'upstream-url': { type: 'string' },
          'api-key-env': { type: 'string', default: 'DEMO_API_KEY' },
        },
      });
      const keepKey = process.env[values['api-key-env']!] || undefined;
      const password = process.env[values['password-env']!] || 'Demo-Gateway-2026!';
      const upstreamUrl = values['upstream-url'] || process.env.FAKE_UPSTREAM_URL || undefined;
      const { result, upstream } = await withSetup(config, async (setup, app) => {
        const result = await setup.seedDemo({ password, platformDomain: values['platform-domain']!, resellerDomain: values['reseller-domain']! });
        const upstream = upstreamUrl
          ? await app.get(DemoUpstreamService).seed({ upstreamUrl, resellerSlug: result.reseller.slug, customerEmail: `user@${values['reseller-domain']!}`, keepKey })
          : null;
        return { result, upstream };
      });
      out(`platform tenant "${result.platform.slug}" and reseller "${result.reseller.slug}" are ready`);
      for (const user of result.users) out(`  ${user.tenant.padEnd(9)} ${user.roles.join(',').padEnd(9)} ${user.email}`);
      out(`  password for every demo user: ${password}`);
      if (upstream) {
        for (const line of demoUpstreamLines(upstream, result.reseller.slug)) out(line);
        if (!config.CHANNEL_ALLOW_PRIVATE_NETWORKS && !reachableByDefault(upstream.channel.baseUrl)) {
          out(`note: ${upstream.channel.baseUrl} is on this machine or a private network; the api reaches it only with CHANNEL_ALLOW_PRIVATE_NETWORKS=true (npm run dev sets it)`);
        }
      }
      return 0;
    }
    case 'generate-channel-key': {
      out(JSON.stringify(SecretBox.generateKey()));
      return 0;
    }
    case 'check-channel-keys': {
      const result = await withChannelKeys(config, (rotation) => rotation.unreadable());
      if (result.unreadable === 0) {
        out(`CHANNEL_ENCRYPTION_KEYS open all ${result.total} stored secrets`);
        return 0;
      }
      out(`CHANNEL_ENCRYPTION_KEYS cannot open ${result.unreadable} of ${result.total} stored secrets (upstream keys, webhook signing secrets): they were sealed with a key that is not among them`);
      return 1;
    }
    case 'reencrypt-channel-keys': {
      const result = await withChannelKeys(config, (rotation) => rotation.reencryptAll());
      out(
        `re-encrypted ${result.reencrypted} of ${result.total} upstream keys, ${result.webhookSecrets.reencrypted} of ${result.webhookSecrets.total} webhook signing secrets and ${result.paymentSecrets.reencrypted} of ${result.paymentSecrets.total} payment secrets with key "${result.kid}"`,
      );
      return 0;
    }
    case 'generate-jwt-key': {
      out(JSON.stringify(await generateSigningJwk()));
      return 0;
    }
    case 'metering': {
      if (rest[0] !== 'replay-dead-letters') {
        out(USAGE);
        return 64;
      }
      const app = await NestFactory.createApplicationContext(CliModule.forRoot(config), { logger: ['error', 'warn'] });
      try {
        const report = await app.get(DeadLetterReplay).replayAll();
        out(
          `dead letters: ${report.found} found, ${report.metered} metered now, ${report.alreadyMetered} already in the ledger, ${report.left} left in the dead-letter streams`,
        );
        return report.left > 0 ? 2 : 0;
      } finally {
        await app.close();
      }
    }
    default:
      out(USAGE);
      return command === undefined || command === 'help' || command === '--help' ? 0 : 64;
  }
}

if (require.main === module) {
  // Generating a key needs no configuration (it is how the configuration gets its key).
  const command = process.argv[2];
  const config =
    command === 'generate-jwt-key' || command === 'generate-channel-key'
      ? ({} as AppConfig)
      : configOrExit(command === 'migrate' ? ['DATABASE_ADMIN_URL'] : ['DATABASE_SYSTEM_URL'], `cli ${command ?? ''}`.trim());
  runCli(process.argv.slice(2), config).then(
    (code) => process.exit(code),
    (error: unknown) => {
      const message = error instanceof SetupError || error instanceof TypeError ? error.message : error instanceof Error ? error.message : String(error);
      process.stderr.write(`error: ${message}\n`);
      process.exit(1);
    },
  );
}
