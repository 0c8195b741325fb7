/**
 * Every manifest the chart renders, in every scenario, validated against the Kubernetes API
 * schemas (kubernetes-models, a current Kubernetes release) and the prometheus-operator and KEDA
 * CRD schemas, including a check for unknown fields. A kind without a schema fails.
 */
import { K8sObject } from './helm';
import { validateManifests } from './k8s-schema';
import { SCENARIOS, scenario } from './scenarios';

describe('Kubernetes schema validation', () => {
  const names = Object.keys(SCENARIOS) as Array<keyof typeof SCENARIOS>;
  let rendered: Array<{ scenario: string; object: K8sObject }>;
  let results: ReturnType<typeof validateManifests>;

  beforeAll(() => {
    rendered = names.flatMap((name) => scenario(name).map((object) => ({ scenario: name, object })));
    results = validateManifests(rendered.map((r) => r.object));
  });

  it('validates every rendered manifest of every scenario', () => {
    const failures = results.flatMap((result, i) => result.errors.map((e) => `[${rendered[i].scenario}] ${result.ref}: ${e}`));
    expect(failures).toEqual([]);
    expect(results).toHaveLength(rendered.length);
  });

  it('covered every kind the chart can render', () => {
    const kinds = new Set(rendered.map((r) => `${r.object.apiVersion} ${r.object.kind}`));
    expect([...kinds].sort()).toEqual([
      'apps/v1 Deployment',
      'autoscaling/v2 HorizontalPodAutoscaler',
      'batch/v1 Job',
      'keda.sh/v1alpha1 ScaledObject',
      'monitoring.coreos.com/v1 PrometheusRule',
      'monitoring.coreos.com/v1 ServiceMonitor',
      'monitoring.coreos.com/v1alpha1 AlertmanagerConfig',
      'networking.k8s.io/v1 Ingress',
      'networking.k8s.io/v1 NetworkPolicy',
      'policy/v1 PodDisruptionBudget',
      'v1 ConfigMap',
      'v1 Pod',
      'v1 Secret',
      'v1 Service',
      'v1 ServiceAccount',
    ]);
  });

  // The validator must be able to say no: each broken manifest below has to be rejected.
  // (Validated in one batch: starting the validator costs about two seconds.)
  const broken: Array<[string, K8sObject, RegExp]> = [
    [
      'a misspelt field',
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'i', securityContext: { readOnlyRootFileSystem: true } }] } },
      /readOnlyRootFileSystem/,
    ],
    [
      'a wrong type',
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { replicas: 'two', selector: {}, template: { spec: { containers: [] } } } },
      /replicas/,
    ],
    ['a missing required field', { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ name: 'http' }] } }, /port/],
    [
      'an unknown field in a CRD',
      { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', metadata: { name: 'x' }, spec: { scaleTargetRef: { name: 'w' }, triggers: [], minReplicas: 1 } },
      /minReplicas/,
    ],
    ['a bad duration in a ServiceMonitor', { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 'x' }, spec: { selector: {}, endpoints: [{ interval: '30 seconds' }] } }, /interval/],
    ['a null where an object belongs', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: null } as unknown as K8sObject, /null/],
    ['a kind without a schema', { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }, /no schema/],
    ['a kind unknown to a known group', { apiVersion: 'apps/v1', kind: 'Deploymnet', metadata: { name: 'w' } }, /no schema/],
  ];
  let brokenResults: ReturnType<typeof validateManifests>;
  beforeAll(() => {
    brokenResults = validateManifests(broken.map(([, manifest]) => manifest));
  });

  it.each(broken.map(([name], i) => [name, i] as const))('rejects %s', (_name, i) => {
    const errors = brokenResults[i].errors;
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.join('\n')).toMatch(broken[i][2]);
  });
});
