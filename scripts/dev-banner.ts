/**
 * What `npm run dev` prints once everything is ready: where things are, the demo logins, and
 * commands to try. Printed without the "[dev]" prefix of the other lines, so every command can be
 * copied as it stands: one command per line, with the real values (the password, the demo key),
 * and the rest as shell comments, so the whole "Try it" block also runs when pasted at once.
 * test/e2e/dev-start.spec.ts runs those commands through a shell.
 */

export interface BannerFacts {
  /** http://localhost:PORT */
  api: string;
  /** http://localhost:WORKER_PORT */
  worker: string;
  metricsPort: number;
  /** smtp:// URL, and whether its mails are printed here (the local sink). */
  mail: { url: string; printedHere: boolean };
  /** The fake upstream's base URL (…/v1), when it runs. */
  upstream?: string;
  /** Where the api's and worker's logs go, and how to see them here instead. */
  logs: { dir: string; shownHere: boolean };
  /** seed-demo's login lines (tenant, roles, e-mail), as it printed them. */
  logins: string[];
  password: string;
  /** The demo customer's API key and the file that keeps it across restarts. */
  apiKey?: { secret: string; file: string };
  /** Every place this checkout keeps state, which `npm run dev -- --reset` removes. */
  state: string[];
}

const DEMO_HOST = 'demo.localhost';

/** `value` as one shell word (single-quoted). */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The command that signs `email` in at the demo reseller and keeps the access token in $TOKEN. */
function signIn(api: string, email: string, password: string): string {
  const body = JSON.stringify({ email, password });
  return (
    `TOKEN=$(curl -s ${api}/api/v1/auth/login -H 'Host: ${DEMO_HOST}' -H 'Content-Type: application/json' -d ${shellQuote(body)}` +
    ` | node -pe 'JSON.parse(require("fs").readFileSync(0)).accessToken')`
  );
}

/** A curl that prints the answer and a newline, as `who` ($TOKEN or an API key). */
function get(api: string, path: string, bearer: string): string {
  return `curl -s -w '\\n' ${api}${path} -H 'Host: ${DEMO_HOST}' -H "Authorization: Bearer ${bearer}"`;
}

/** The web console at `host` on the api's port (browsers resolve *.localhost to this machine). */
function consoleAt(api: string, host: string): string {
  const url = new URL(api);
  url.hostname = host;
  url.pathname = '/console/';
  return url.toString();
}

export function bannerLines(facts: BannerFacts): string[] {
  const { api, worker } = facts;
  // One row per place; a new one (e.g. the web console) is one more row.
  const places: Array<[string, string]> = [
    ['api', `${api}   (the Host header picks the tenant: ${DEMO_HOST} is the demo reseller)`],
    ['console', `${consoleAt(api, DEMO_HOST)} (demo reseller)   ${api}/console/ (platform)`],
    ['API docs', `${api}/api/docs`],
    ['metrics', `http://localhost:${facts.metricsPort}/metrics (api)   http://localhost:${facts.metricsPort + 1}/metrics (worker)`],
    ['health', `${api}/health/ready   ${worker}/health/ready`],
    ['mail', facts.mail.printedHere ? `${facts.mail.url} (every mail is printed here)` : facts.mail.url],
    ...(facts.upstream ? [['upstream', `${facts.upstream} (fake OpenAI-compatible provider behind the demo channel)`] as [string, string]] : []),
    ['logs', `${facts.logs.dir}/api.log, worker.log, dev.log${facts.logs.shownHere ? ' (also shown here)' : ' (npm run dev -- --logs shows them here; errors always are)'}`],
  ];
  const width = Math.max(...places.map(([label]) => label.length));

  // [comment, command]: each command runs as printed, and after the ones above it.
  const tryIt: Array<[string, string]> = [
    ['sign in as the demo reseller\'s owner, then ask who that is', signIn(api, `owner@${DEMO_HOST}`, facts.password)],
    ['', get(api, '/api/v1/me', '$TOKEN')],
  ];
  if (facts.apiKey) {
    tryIt.push(
      [
        'the first API call: OpenAI-compatible, with the demo customer\'s key, answered by the fake upstream',
        `curl -s -w '\\n' ${api}/v1/chat/completions -H 'Host: ${DEMO_HOST}' -H 'Authorization: Bearer ${facts.apiKey.secret}' -H 'Content-Type: application/json' -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}'`,
      ],
      [
        'its balance going down: "spendable" at once, "balance" (the ledger) once the worker has metered the call',
        signIn(api, `user@${DEMO_HOST}`, facts.password),
      ],
      ['', get(api, '/api/v1/me/balance', '$TOKEN')],
    );
  }

  return [
    '',
    'AIGateway is running',
    ...places.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`),
    '',
    'Demo logins (cli seed-demo), all with the password ' + facts.password,
    ...facts.logins,
    ...(facts.apiKey
      ? [
          '',
          `Demo API key of user@${DEMO_HOST}, the same at every start (kept in ${facts.apiKey.file}):`,
          `  ${facts.apiKey.secret}`,
        ]
      : []),
    '',
    'Try it (each line runs as copied; README: "The OpenAI-compatible API (/v1)"):',
    ...tryIt.flatMap(([comment, command]) => [...(comment ? [`# ${comment}`] : []), command]),
    '',
    `Ctrl-C stops everything; the data stays (${facts.state.join(', ')}).`,
    'npm run dev -- --reset starts afresh: it removes all of that first.',
    '',
  ];
}
