import { HttpResult } from './http';

/** Traces of internals that must never reach a client: stack frames, SQL, driver messages. */
const LEAKS: Array<[string, RegExp]> = [
  ['a stack frame', /\bat [\w.<>$]+ \(|\bat (?:async )?\/|\.(?:ts|js):\d+:\d+/],
  ['a module path', /node_modules|\/src\/|\/libs\//],
  ['SQL', /\b(?:SELECT|INSERT INTO|UPDATE|DELETE FROM)\b[\s\S]*\b(?:FROM|WHERE|SET|VALUES)\b/i],
  ['a database message', /QueryFailedError|violates|duplicate key|relation "|syntax error at|current_setting|tenancy\./i],
];

/**
 * The response is a problem (RFC 9457) with this status and stable code, served as
 * application/problem+json, and tells nothing about our internals.
 */
export function expectProblem(res: HttpResult, status: number, code: string): void {
  expect({ status: res.status, code: res.body?.code }).toEqual({ status, code });
  expect(res.headers['content-type']).toContain('application/problem+json');
  expect(res.body).toMatchObject({ status, code, type: `urn:aigateway:problem:${code}`, title: expect.any(String) });
  expectNoLeak(res);
}

export function expectNoLeak(res: HttpResult): void {
  for (const [what, pattern] of LEAKS) {
    if (pattern.test(res.text)) throw new Error(`the response contains ${what}: ${res.text.slice(0, 500)}`);
  }
}

/** A validation problem naming exactly these fields (and maybe others when `exact` is false). */
export function expectInvalidFields(res: HttpResult, fields: string[], exact = false): void {
  expectProblem(res, 400, 'validation_failed');
  const named = (res.body.errors as Array<{ field: string }>).map((e) => e.field).sort();
  if (exact) expect(named).toEqual([...fields].sort());
  else expect(named).toEqual(expect.arrayContaining(fields));
}
