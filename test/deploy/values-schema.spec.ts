/**
 * A wrong value must stop `helm install` before anything reaches the cluster: values.schema.json
 * rejects wrong types and unknown keys, the templates reject combinations the schema cannot express.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CHART_DIR, helmWithValues, renderError } from './helm';

describe('values.schema.json', () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['replicaCount: "two"', { api: { replicaCount: 'two' } }, /\/api\/replicaCount.*want integer/],
    ['an unknown top-level key', { replicas: 2 }, /additional properties 'replicas' not allowed/],
    ['an unknown nested key (typo)', { api: { autoscalling: { enabled: true } } }, /additional properties 'autoscalling' not allowed/],
    ['an unknown alert setting', { prometheusRule: { alerts: { AIGatewayHigh5xxRatio: { treshold: 0.1 } } } }, /additional properties 'treshold' not allowed/],
    ['a 5xx threshold above 1', { prometheusRule: { alerts: { AIGatewayHigh5xxRatio: { threshold: 5 } } } }, /threshold/],
    ['a duration Prometheus cannot read', { prometheusRule: { alerts: { AIGatewayDependencyDown: { for: '2 minutes' } } } }, /\/for/],
    ['a reseller host that is not a host name', { ingress: { resellerHosts: ['https://reseller.example'] } }, /resellerHosts/],
    ['a duplicate reseller host', { ingress: { resellerHosts: ['a.example.com', 'a.example.com'] } }, /resellerHosts/],
    ['KEDA allowed to scale the worker to zero', { keda: { minReplicas: 0 } }, /\/keda\/minReplicas/],
    ['root as the pod user', { podSecurityContext: { runAsUser: 0 } }, /runAsUser/],
    ['a config key the chart sets per process', { config: { SHUTDOWN_GRACE_MS: '1000' } }, /propertyName 'SHUTDOWN_GRACE_MS'/],
    ['an env name that is not one', { secrets: { 'database-url': 'x' } }, /propertyName 'database-url'/],
    ['a log level pino does not have', { config: { LOG_LEVEL: 'verbose' } }, /LOG_LEVEL/],
    ['a shutdown grace below the application minimum', { api: { shutdownGraceMs: 500 } }, /shutdownGraceMs/],
    ['a pull policy that does not exist', { image: { pullPolicy: 'Sometimes' } }, /pullPolicy/],
    ['a malformed digest', { image: { digest: 'latest' } }, /digest/],
    ['a non-string pod annotation', { podAnnotations: { 'example.com/n': 1 } }, /podAnnotations/],
    ['a malformed extraEnv entry', { extraEnv: [{ value: 'x' }] }, /extraEnv/],
  ])('rejects %s', (_name, values, message) => {
    const stderr = renderError({ values });
    expect(stderr).toContain("values don't meet the specifications of the schema");
    expect(stderr).toMatch(message);
  });

  it('accepts the default values and the all-on values file (rendered elsewhere), and documents every top-level key', () => {
    const schema = JSON.parse(fs.readFileSync(path.join(CHART_DIR, 'values.schema.json'), 'utf8'));
    const defaults = Object.keys(require('yaml').parse(fs.readFileSync(path.join(CHART_DIR, 'values.yaml'), 'utf8')));
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties).filter((k) => k !== 'global').sort()).toEqual(defaults.sort());
  });

  it('accepts null for the optional numbers (helm drops them)', () => {
    const result = helmWithValues(['template', 'gw', CHART_DIR], { values: { api: { terminationGracePeriodSeconds: null, autoscaling: { targetMemoryUtilizationPercentage: null } }, podSecurityContext: { runAsUser: null } } });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});

describe('template checks', () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['a grace period not longer than preStop + SHUTDOWN_GRACE_MS', { api: { terminationGracePeriodSeconds: 30 } }, /api\.terminationGracePeriodSeconds \(30\) must exceed/],
    ['a worker grace period shorter than its jobs may run', { worker: { shutdownGraceMs: 120000, terminationGracePeriodSeconds: 60 } }, /worker\.terminationGracePeriodSeconds \(60\) must exceed/],
    ['KEDA and a worker HPA together', { keda: { enabled: true }, worker: { autoscaling: { enabled: true } } }, /mutually exclusive/],
    ['an ingress without the platform host', { ingress: { enabled: true } }, /ingress\.platformHost is required/],
    ['both a cert-manager Issuer and ClusterIssuer', { ingress: { tls: { certManager: { issuer: 'a', clusterIssuer: 'b' } } } }, /only one of/],
    ['the platform host repeated as a reseller host', { ingress: { enabled: true, platformHost: 'gw.example.com', resellerHosts: ['gw.example.com'] } }, /repeats the platform host/],
    ['bootstrap without an email', { migration: { bootstrap: { enabled: true, domain: 'gw.example.com' } }, secrets: { BOOTSTRAP_OWNER_PASSWORD: 'x' } }, /bootstrap\.email is required/],
    ['bootstrap without a password', { migration: { bootstrap: { enabled: true, email: 'o@gw.example.com', domain: 'gw.example.com' } } }, /BOOTSTRAP_OWNER_PASSWORD is required/],
    ['chart secrets next to existingSecret', { existingSecret: 'creds', secrets: { REDIS_URL: 'redis://r:6379' } }, /secrets\.REDIS_URL is set but existingSecret is used/],
  ])('rejects %s', (_name, values, message) => {
    expect(renderError({ values })).toMatch(message);
  });

  it('derives the grace period from SHUTDOWN_GRACE_MS when not set', () => {
    const result = helmWithValues(['template', 'gw', CHART_DIR, '--show-only', 'templates/worker-deployment.yaml'], { values: { worker: { shutdownGraceMs: 120500, preStopSleepSeconds: 3 } } });
    expect(result.stdout).toContain('terminationGracePeriodSeconds: 129'); // 3 + ceil(120.5) + 5
    expect(result.stdout).toContain('value: "120500"');
  });
});
