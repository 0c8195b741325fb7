// A real OpenID Connect provider (the `oidc-provider` package, ESM) for the OIDC sign-in specs,
// run as a child process (jest cannot import the package). Started by test/support/oidc.ts.
//
// Environment: OIDC_TEST_CLIENTS (JSON array of {client_id, client_secret, redirect_uris}),
// OIDC_TEST_ACCOUNTS (JSON object sub -> {email, email_verified, name}). It listens on a free port
// of 127.0.0.1, is its own issuer (http://127.0.0.1:<port>), and prints {"issuer": ...} on stdout.
//
// The login page is a list of the accounts: GET /interaction/<uid>?account=<sub> signs in as <sub>
// (the test names the account, as a person would by typing a password). Consent is given
// at once (the client is first-party), with the scopes asked for.
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const clients = JSON.parse(process.env.OIDC_TEST_CLIENTS ?? '[]');
const accounts = JSON.parse(process.env.OIDC_TEST_ACCOUNTS ?? '{}');

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: clients.map((c) => ({ ...c, grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' })),
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  cookies: { keys: ['oidc-test-cookie-key'] },
  features: { devInteractions: { enabled: false } },
  pkce: { required: () => true },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(_ctx, sub) {
    const account = accounts[sub];
    if (!account) return undefined;
    return { accountId: sub, claims: async () => ({ sub, ...account }) };
  },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
});

const callback = provider.callback();
server.on('request', async (req, res) => {
  const url = new URL(req.url, issuer);
  const match = /^\/interaction\/([^/]+)$/.exec(url.pathname);
  if (!match) return callback(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    const account = url.searchParams.get('account');
    if (details.prompt.name !== 'login') {
      res.statusCode = 400;
      return res.end(`unexpected prompt ${details.prompt.name}`);
    }
    if (!account || !accounts[account]) {
      // The page a person sees in a browser: pick who to be.
      const links = Object.keys(accounts)
        .map((sub) => `<li><a href="/interaction/${details.uid}?account=${encodeURIComponent(sub)}">${sub}</a></li>`)
        .join('');
      res.setHeader('content-type', 'text/html; charset=utf-8');
      return res.end(`<!doctype html><html lang="en"><head><title>Test provider</title></head><body><main><h1>Sign in as</h1><ul>${links}</ul></main></body></html>`);
    }
    await provider.interactionFinished(req, res, { login: { accountId: account } }, { mergeWithLastSubmission: false });
  } catch (error) {
    res.statusCode = 500;
    res.end(String(error));
  }
});

process.stdout.write(`${JSON.stringify({ issuer })}\n`);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
