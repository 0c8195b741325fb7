import type { OpenAPIObject } from '@nestjs/swagger';
import type { ResponsesObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { CONSOLE_PREFIX, MAIL_LINK_PAGES } from './console-static';

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/ProblemSchema' } } },
});

const unknownHost = problem('unknown_tenant: the Host is no tenant domain');
const badUrl = problem('malformed_request / validation_failed: the URL cannot be read (undecodable, NUL)');
const redirect = (to: string) => ({ description: `Redirect to ${to}, the query string kept`, headers: { Location: { schema: { type: 'string' } } } });

/**
 * The browser console's routes (served straight on Fastify, not by Nest controllers): the SPA's
 * files under /console/ and the redirects into it. No auth: the page signs in through the API.
 */
export function addConsolePaths(document: OpenAPIObject): void {
  const page = (summary: string, responses: ResponsesObject) => ({ get: { tags: ['console'], summary, security: [], responses } });
  document.paths[CONSOLE_PREFIX] = page('The console: redirects to /console/', { '302': redirect(`${CONSOLE_PREFIX}/`), '400': badUrl, '404': unknownHost });
  document.paths[`${CONSOLE_PREFIX}/*`] = page(
    "The built console (CONSOLE_DIR): its files; any other path gets index.html (the SPA routes it). Strict CSP, X-Frame-Options DENY",
    {
      '200': { description: 'A file of the console, or index.html', content: { 'text/html': { schema: { type: 'string' } }, '*/*': { schema: { type: 'string', format: 'binary' } } } },
      '400': badUrl,
      '404': problem('unknown_tenant (the Host is no tenant domain) / not_found (a hashed asset that does not exist)'),
      '503': problem('console_not_built: run npm run build'),
    },
  );
  for (const name of MAIL_LINK_PAGES) {
    document.paths[`/${name}`] = page(`The ${name.replace('-', ' ')} link of a mail (\`?token=...\`): redirects into the console`, {
      '302': redirect(`${CONSOLE_PREFIX}/${name}`),
      '400': badUrl,
      '404': unknownHost,
    });
  }
  document.paths['/'] = page("A tenant domain's root: redirects to the console", { '302': redirect(`${CONSOLE_PREFIX}/`), '400': badUrl, '404': unknownHost });
}
