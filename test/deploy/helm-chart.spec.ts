/**
 * The Helm chart: lint, render, and the properties an operator relies on (security, probes,
 * graceful shutdown, migration hook and its Secret, least-privilege credentials, wiring between
 * resources, ingress hosts and TLS, autoscaling, monitoring).
 */
import { ALL_ON_VALUES, CHART_DIR, K8sObject, findObject, helm, helmWithValues, render, renderError } from './helm';
import {
  EXISTING_SECRET,
  FULLNAME,
  NAMESPACE,
  SCENARIOS,
  allContainers,
  matchesSelector,
  podSpecOf,
  podTemplateLabels,
  scenario,
} from './scenarios';

const SCENARIO_NAMES = Object.keys(SCENARIOS) as Array<keyof typeof SCENARIOS>;

const envValue = (container: { env?: Array<{ name: string; value?: string }> }, name: string) =>
  container.env?.find((e) => e.name === name)?.value;
const envNames = (container: { env?: Array<{ name: string }> }) => (container.env ?? []).map((e) => e.name);
const hookOf = (o: K8sObject) => o.metadata.annotations?.['helm.sh/hook'];

describe('helm lint', () => {
  it.each([
    ['default values', []],
    ['all-on values', ['--values', ALL_ON_VALUES]],
  ])('passes with %s (--strict)', (_name, args) => {
    const result = helm(['lint', CHART_DIR, '--strict', ...args]);
    expect(result.stderr).not.toMatch(/\[ERROR\]|\[WARNING\]/);
    expect(result.stdout).toContain('0 chart(s) failed');
    expect(result.status).toBe(0);
  });

  it('fails on a Kubernetes older than the chart supports (native preStop sleep needs 1.30)', () => {
    const result = helmWithValues(['template', 'gw', CHART_DIR, '--kube-version', '1.29.0'], {});
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/kubeVersion|incompatible/i);
  });
});

describe.each(SCENARIO_NAMES)('rendered with %s', (name) => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = scenario(name);
  });

  const pods = () => objects.filter((o) => podSpecOf(o)).map((o) => ({ ref: `${o.kind}/${o.metadata.name}`, object: o, pod: podSpecOf(o)! }));
  const deployments = () => objects.filter((o) => o.kind === 'Deployment');

  it('renders api and worker Deployments from one image, with the process picked by args', () => {
    const api = findObject<any>(objects, 'Deployment', `${FULLNAME}-api`);
    const worker = findObject<any>(objects, 'Deployment', `${FULLNAME}-worker`);
    const [apiContainer] = api.spec.template.spec.containers;
    const [workerContainer] = worker.spec.template.spec.containers;
    expect(apiContainer.image).toBe(workerContainer.image);
    expect(apiContainer.args).toEqual(['api']);
    expect(workerContainer.args).toEqual(['worker']);
  });

  it('runs every container non-root, read-only, without privilege escalation or capabilities', () => {
    const all = pods();
    expect(all.length).toBeGreaterThanOrEqual(2);
    for (const { ref, pod } of all) {
      const podContext = pod.securityContext ?? {};
      expect({ ref, runAsNonRoot: podContext.runAsNonRoot, seccomp: podContext.seccompProfile?.type }).toEqual({ ref, runAsNonRoot: true, seccomp: 'RuntimeDefault' });
      if (podContext.runAsUser !== undefined) expect(podContext.runAsUser).toBeGreaterThan(0);
      expect({ ref, automount: pod.automountServiceAccountToken }).toEqual({ ref, automount: false });
      for (const container of allContainers(pod)) {
        const c = container.securityContext ?? {};
        expect({
          ref: `${ref}/${container.name}`,
          runAsNonRoot: c.runAsNonRoot,
          readOnlyRootFilesystem: c.readOnlyRootFilesystem,
          allowPrivilegeEscalation: c.allowPrivilegeEscalation,
          privileged: c.privileged,
          drop: c.capabilities?.drop,
          add: c.capabilities?.add,
          seccomp: c.seccompProfile?.type,
        }).toEqual({
          ref: `${ref}/${container.name}`,
          runAsNonRoot: true,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          privileged: false,
          drop: ['ALL'],
          add: undefined,
          seccomp: 'RuntimeDefault',
        });
        if (c.runAsUser !== undefined) expect(c.runAsUser).toBeGreaterThan(0);
      }
    }
  });

  it('gives the long-running and migration containers a writable /tmp (emptyDir) and bounded resources', () => {
    for (const object of [...deployments(), ...objects.filter((o) => o.kind === 'Job')]) {
      const pod = podSpecOf(object)!;
      const tmp = pod.volumes?.find((v) => v.name === 'tmp');
      expect(tmp?.emptyDir?.sizeLimit).toBeDefined();
      for (const container of allContainers(pod)) {
        expect(container.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
        expect(container.resources?.requests?.cpu).toBeDefined();
        expect(container.resources?.requests?.memory).toBeDefined();
        expect(container.resources?.limits?.memory).toBeDefined();
      }
    }
  });

  it('probes /health/live (startup, liveness) and /health/ready (readiness) on the port the process listens on', () => {
    for (const deployment of deployments()) {
      const [container] = podSpecOf(deployment)!.containers;
      const [port] = container.ports!;
      const portEnv = container.args![0] === 'api' ? 'PORT' : 'WORKER_PORT';
      expect(envValue(container, portEnv)).toBe(String(port.containerPort));
      expect(container.startupProbe.httpGet).toEqual({ path: '/health/live', port: port.name });
      expect(container.livenessProbe.httpGet).toEqual({ path: '/health/live', port: port.name });
      expect(container.readinessProbe.httpGet).toEqual({ path: '/health/ready', port: port.name });
    }
  });

  it('lets the kubelet wait longer than preStop + SHUTDOWN_GRACE_MS before killing a process', () => {
    for (const deployment of deployments()) {
      const pod = podSpecOf(deployment)!;
      const [container] = pod.containers;
      const shutdownMs = Number(envValue(container, 'SHUTDOWN_GRACE_MS'));
      expect(shutdownMs).toBeGreaterThan(0);
      const preStop = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStop + shutdownMs / 1000);
    }
  });

  it('spreads pods over zones and nodes and rolls out without losing capacity', () => {
    for (const deployment of deployments()) {
      const spec = deployment.spec as any;
      const keys = spec.template.spec.topologySpreadConstraints.map((t: any) => t.topologyKey);
      expect(keys).toEqual(['topology.kubernetes.io/zone', 'kubernetes.io/hostname']);
      for (const constraint of spec.template.spec.topologySpreadConstraints) {
        expect(matchesSelector(spec.template.metadata.labels, constraint.labelSelector.matchLabels)).toBe(true);
      }
      expect(spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    }
  });

  it('selects only its own pods: Services, PDBs and Deployments agree on labels', () => {
    for (const deployment of deployments()) {
      const spec = deployment.spec as any;
      expect(matchesSelector(spec.template.metadata.labels, spec.selector.matchLabels)).toBe(true);
    }
    const podLabels = deployments().map(podTemplateLabels);
    for (const selecting of objects.filter((o) => o.kind === 'Service' || o.kind === 'PodDisruptionBudget')) {
      const spec = selecting.spec as any;
      const selector = selecting.kind === 'Service' ? spec.selector : spec.selector.matchLabels;
      const matched = podLabels.filter((labels) => matchesSelector(labels, selector));
      expect({ ref: `${selecting.kind}/${selecting.metadata.name}`, matched: matched.length }).toEqual({ ref: `${selecting.kind}/${selecting.metadata.name}`, matched: 1 });
    }
  });

  it('references only ConfigMaps and Secrets that the release creates, or the existing Secret', () => {
    const configMaps = new Set(objects.filter((o) => o.kind === 'ConfigMap').map((o) => o.metadata.name));
    const secrets = new Set(objects.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name));
    if (name === 'all-on with existingSecret') {
      expect(secrets.size).toBe(0);
      secrets.add(EXISTING_SECRET);
    }
    for (const { ref, pod } of pods()) {
      for (const container of allContainers(pod)) {
        for (const from of container.envFrom ?? []) {
          if (from.configMapRef) expect({ ref, cm: configMaps.has(from.configMapRef.name) }).toEqual({ ref, cm: true });
          if (from.secretRef) expect({ ref, secret: secrets.has(from.secretRef.name) }).toEqual({ ref, secret: true });
        }
        for (const env of container.env ?? []) {
          const secretRef = env.valueFrom?.secretKeyRef;
          if (secretRef) expect({ ref, env: env.name, secret: secrets.has(secretRef.name) }).toEqual({ ref, env: env.name, secret: true });
        }
      }
    }
  });

  it('gives each process only its credentials: the owner role only to the migration, the system role not to the api', () => {
    const api = podSpecOf(findObject(objects, 'Deployment', `${FULLNAME}-api`))!.containers[0];
    const worker = podSpecOf(findObject(objects, 'Deployment', `${FULLNAME}-worker`))!.containers[0];
    expect(envNames(api)).toEqual(expect.arrayContaining(['DATABASE_URL', 'REDIS_URL']));
    expect(envNames(api)).not.toContain('DATABASE_ADMIN_URL');
    expect(envNames(api)).not.toContain('DATABASE_SYSTEM_URL');
    expect(envNames(worker)).toEqual(expect.arrayContaining(['DATABASE_URL', 'DATABASE_SYSTEM_URL', 'REDIS_URL']));
    expect(envNames(worker)).not.toContain('DATABASE_ADMIN_URL');
    for (const container of [api, worker]) {
      expect(container.envFrom?.some((f: any) => f.secretRef)).toBeFalsy(); // no whole-Secret import
    }
    const runtimeSecret = objects.find((o) => o.kind === 'Secret' && !hookOf(o)) as any;
    if (runtimeSecret) {
      expect(Object.keys(runtimeSecret.data ?? {})).not.toContain('DATABASE_ADMIN_URL');
      expect(Object.keys(runtimeSecret.data ?? {})).not.toContain('BOOTSTRAP_OWNER_PASSWORD');
    }
  });

  it('rolls the pods when the configuration or the chart-made Secret changes', () => {
    for (const deployment of deployments()) {
      const annotations = (deployment.spec as any).template.metadata.annotations;
      expect(annotations['checksum/config']).toMatch(/^[0-9a-f]{64}$/);
      if (name !== 'all-on with existingSecret') expect(annotations['checksum/secret']).toMatch(/^[0-9a-f]{64}$/);
    }
  });
});

describe('migration Job', () => {
  const job = (objects: K8sObject[]) => findObject<any>(objects, 'Job', `${FULLNAME}-migration`);

  it.each(['defaults', 'all-on', 'all-on with existingSecret'] as const)('is a pre-install,pre-upgrade hook running `cli migrate` with the owner role (%s)', (name) => {
    const objects = scenario(name);
    const migration = job(objects);
    expect(migration.metadata.annotations['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    expect(migration.metadata.annotations['helm.sh/hook-delete-policy']).toContain('before-hook-creation');
    const pod = migration.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    const [first] = [...(pod.initContainers ?? []), ...pod.containers];
    expect(first.args).toEqual(['cli', 'migrate']);
    const admin = first.env.find((e: any) => e.name === 'DATABASE_ADMIN_URL');
    expect(admin?.valueFrom?.secretKeyRef?.key).toBe('DATABASE_ADMIN_URL');
    // Pre-install, the release's ordinary resources do not exist yet: the Job may use none of them.
    const ordinary = new Set(objects.filter((o) => !hookOf(o)).map((o) => `${o.kind}/${o.metadata.name}`));
    const secretName = admin.valueFrom.secretKeyRef.name;
    expect(ordinary.has(`Secret/${secretName}`)).toBe(false);
    for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
      expect(container.envFrom ?? []).toEqual([]);
      for (const env of container.env) if (env.valueFrom?.configMapKeyRef) throw new Error('the Job must not read the release ConfigMap');
    }
    if (pod.serviceAccountName) expect(ordinary.has(`ServiceAccount/${pod.serviceAccountName}`)).toBe(false);
    if (name === 'all-on with existingSecret') {
      expect(secretName).toBe(EXISTING_SECRET);
    } else {
      // The chart's migration Secret is itself a hook, created before the Job and removed after success.
      const secret = findObject<any>(objects, 'Secret', secretName);
      expect(secret.metadata.annotations['helm.sh/hook']).toBe('pre-install,pre-upgrade');
      expect(Number(secret.metadata.annotations['helm.sh/hook-weight'])).toBeLessThan(Number(migration.metadata.annotations['helm.sh/hook-weight'] ?? 0));
      expect(secret.metadata.annotations['helm.sh/hook-delete-policy']).toBe('before-hook-creation,hook-succeeded');
      if (name === 'all-on') expect(Object.keys(secret.data)).toContain('DATABASE_ADMIN_URL');
    }
  });

  it('receives the same non-secret configuration as the processes, inline', () => {
    const objects = scenario('all-on');
    const configMap = findObject<any>(objects, 'ConfigMap', FULLNAME);
    const [container] = job(objects).spec.template.spec.initContainers;
    for (const [key, value] of Object.entries(configMap.data)) expect(envValue(container, key)).toBe(value);
  });

  it('runs bootstrap and seed-demo after migrate when enabled, with the password from the Secret', () => {
    const pod = job(scenario('all-on')).spec.template.spec;
    const steps = [...pod.initContainers, ...pod.containers];
    expect(steps.map((c: any) => c.name)).toEqual(['migrate', 'bootstrap', 'seed-demo']);
    expect(steps[1].args).toEqual(['cli', 'bootstrap', '--email', 'owner@gateway.example.com', '--password-env', 'BOOTSTRAP_OWNER_PASSWORD', '--domain', 'gateway.example.com']);
    expect(steps[1].env.find((e: any) => e.name === 'BOOTSTRAP_OWNER_PASSWORD').valueFrom.secretKeyRef.key).toBe('BOOTSTRAP_OWNER_PASSWORD');
    expect(job(scenario('defaults')).spec.template.spec.initContainers).toBeUndefined();
  });

  it('is left out when migration.enabled is false', () => {
    const objects = scenario('worker HPA, fixed api replicas, no migration hook');
    expect(objects.filter((o) => o.kind === 'Job' || hookOf(o)?.includes('pre-install'))).toEqual([]);
  });
});

describe('ingress', () => {
  it('routes the platform host and every reseller host to the api, each with cert-manager TLS', () => {
    const objects = scenario('all-on');
    const ingress = findObject<any>(objects, 'Ingress', FULLNAME);
    const hosts = ['gateway.example.com', 'api.reseller-one.example', 'ai.reseller-two.example'];
    expect(ingress.metadata.annotations['cert-manager.io/cluster-issuer']).toBe('letsencrypt-prod');
    // The last rule has no host: any other Host (a reseller domain verified at runtime) reaches the api too.
    expect(ingress.spec.rules.map((r: any) => r.host)).toEqual([...hosts, undefined]);
    expect(ingress.spec.tls.flatMap((t: any) => t.hosts)).toEqual(hosts);
    expect(new Set(ingress.spec.tls.map((t: any) => t.secretName)).size).toBe(hosts.length);
    const service = findObject<any>(objects, 'Service', `${FULLNAME}-api`);
    for (const rule of ingress.spec.rules) {
      const backend = rule.http.paths[0].backend.service;
      expect(backend.name).toBe(service.metadata.name);
      expect(service.spec.ports.map((p: any) => p.name)).toContain(backend.port.name);
    }
    const configMap = findObject<any>(objects, 'ConfigMap', FULLNAME);
    expect(configMap.data.PUBLIC_URL).toBe('https://gateway.example.com');
    expect(configMap.data.TRUST_PROXY).toBe('true');
  });

  it('can share one TLS Secret across hosts, and is absent by default', () => {
    const ingress = findObject<any>(scenario('worker HPA, fixed api replicas, no migration hook'), 'Ingress', FULLNAME);
    expect(ingress.spec.tls).toEqual([{ secretName: 'gateway-tls', hosts: ['gateway.example.com'] }]);
    // No catch-all rule unless asked for.
    expect(ingress.spec.rules.map((r: any) => r.host)).toEqual(['gateway.example.com']);
    expect(scenario('defaults').filter((o) => o.kind === 'Ingress')).toEqual([]);
  });
});

describe('tracing', () => {
  it('renders the tracing values into api and worker env, each with its own service name', () => {
    const env = (objects: K8sObject[], component: string) =>
      Object.fromEntries(
        (findObject<any>(objects, 'Deployment', `${FULLNAME}-${component}`).spec.template.spec.containers[0].env as Array<{ name: string; value?: string }>).map((e) => [e.name, e.value]),
      );
    for (const component of ['api', 'worker']) {
      expect(env(scenario('all-on'), component)).toMatchObject({
        TRACING_ENABLED: 'true',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector.monitoring:4318',
        OTEL_SERVICE_NAME: `gw-${component}`,
        TRACING_SAMPLE_RATIO: '0.25',
      });
      const off = env(scenario('defaults'), component);
      expect(off.TRACING_ENABLED).toBe('false');
      expect(Object.keys(off).filter((k) => k.startsWith('OTEL_') || k === 'TRACING_SAMPLE_RATIO')).toEqual([]);
    }
  });

  it('gives the replica URL to the api only', () => {
    const keys = (component: string) =>
      (findObject<any>(scenario('all-on'), 'Deployment', `${FULLNAME}-${component}`).spec.template.spec.containers[0].env as Array<{ name: string }>).map((e) => e.name);
    expect(keys('api')).toContain('DATABASE_REPLICA_URL');
    expect(keys('worker')).not.toContain('DATABASE_REPLICA_URL');
  });
});

describe('autoscaling and disruption budgets', () => {
  it('scales the api with an HPA, leaving replicas to it', () => {
    const objects = scenario('defaults');
    const hpa = findObject<any>(objects, 'HorizontalPodAutoscaler', `${FULLNAME}-api`);
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: `${FULLNAME}-api` });
    expect((findObject<any>(objects, 'Deployment', `${FULLNAME}-api`).spec as any).replicas).toBeUndefined();
    expect((findObject<any>(objects, 'Deployment', `${FULLNAME}-worker`).spec as any).replicas).toBe(2);
  });

  it('scales the worker with KEDA on the metering backlog (the usage streams, not a BullMQ queue) when keda.enabled, and with no HPA of its own', () => {
    const objects = scenario('all-on');
    const scaled = findObject<any>(objects, 'ScaledObject', `${FULLNAME}-worker`);
    expect(scaled.spec.scaleTargetRef.name).toBe(`${FULLNAME}-worker`);
    expect(scaled.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
    const [trigger] = scaled.spec.triggers;
    expect(trigger.type).toBe('prometheus');
    // Metering drains the tenants' Redis streams: there is no `metering` BullMQ queue with waiting jobs to read.
    expect(trigger.metadata.query).toBe(`max(aigateway_metering_backlog_events{namespace="${NAMESPACE}",service="${FULLNAME}-worker"})`);
    expect(trigger.metadata.threshold).toBe('5000');
    expect(trigger.metadata.activationThreshold).toBe('0');
    expect(objects.filter((o) => o.kind === 'HorizontalPodAutoscaler' && o.metadata.name === `${FULLNAME}-worker`)).toEqual([]);
    expect((findObject<any>(objects, 'Deployment', `${FULLNAME}-worker`).spec as any).replicas).toBeUndefined();
  });

  it('can scale the worker with a CPU HPA and pin the api replicas instead', () => {
    const objects = scenario('worker HPA, fixed api replicas, no migration hook');
    expect(findObject<any>(objects, 'HorizontalPodAutoscaler', `${FULLNAME}-worker`).spec.scaleTargetRef.name).toBe(`${FULLNAME}-worker`);
    expect(objects.filter((o) => o.kind === 'HorizontalPodAutoscaler' && o.metadata.name === `${FULLNAME}-api`)).toEqual([]);
    expect((findObject<any>(objects, 'Deployment', `${FULLNAME}-api`).spec as any).replicas).toBe(3);
  });

  it('limits voluntary disruptions of api and worker', () => {
    for (const component of ['api', 'worker']) {
      expect(findObject<any>(scenario('defaults'), 'PodDisruptionBudget', `${FULLNAME}-${component}`).spec.maxUnavailable).toBe(1);
    }
  });
});

describe('network policy', () => {
  it('admits the ingress controller and Prometheus to the api, only Prometheus to the worker, and restricts egress when rules are given', () => {
    const objects = scenario('all-on');
    const api = findObject<any>(objects, 'NetworkPolicy', `${FULLNAME}-api`);
    const worker = findObject<any>(objects, 'NetworkPolicy', `${FULLNAME}-worker`);
    const apiPod = podTemplateLabels(findObject(objects, 'Deployment', `${FULLNAME}-api`));
    const workerPod = podTemplateLabels(findObject(objects, 'Deployment', `${FULLNAME}-worker`));
    expect(matchesSelector(apiPod, api.spec.podSelector.matchLabels)).toBe(true);
    expect(matchesSelector(workerPod, api.spec.podSelector.matchLabels)).toBe(false);
    expect(matchesSelector(workerPod, worker.spec.podSelector.matchLabels)).toBe(true);
    const namespaces = (policy: any) =>
      policy.spec.ingress.flatMap((rule: any) => rule.from.map((peer: any) => peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'])).filter(Boolean);
    expect(namespaces(api)).toEqual(['ingress-nginx', 'monitoring']);
    expect(namespaces(worker)).toEqual(['monitoring']);
    expect(worker.spec.ingress.flatMap((r: any) => r.ports.map((p: any) => p.port))).toEqual(['metrics']);
    // The ingress controller reaches only the traffic port, Prometheus only the metrics port.
    const portsFrom = (policy: any, namespace: string) =>
      policy.spec.ingress
        .filter((rule: any) => rule.from.some((peer: any) => peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === namespace))
        .flatMap((rule: any) => rule.ports.map((p: any) => p.port));
    expect(portsFrom(api, 'ingress-nginx')).toEqual(['http']);
    expect(portsFrom(api, 'monitoring')).toEqual(['metrics']);
    expect(api.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(api.spec.egress[0].ports).toEqual([{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }]);
  });
});

describe('monitoring', () => {
  it('scrapes api and worker on their metrics port (never the traffic port) through one ServiceMonitor with job = component', () => {
    const objects = scenario('all-on');
    const monitor = findObject<any>(objects, 'ServiceMonitor', FULLNAME);
    expect(monitor.metadata.labels.release).toBe('kube-prometheus-stack');
    expect(monitor.spec.jobLabel).toBe('app.kubernetes.io/component');
    const services = objects.filter((o) => o.kind === 'Service') as any[];
    const selected = services.filter(
      (s) =>
        matchesSelector(s.metadata.labels, monitor.spec.selector.matchLabels) &&
        monitor.spec.selector.matchExpressions.every((e: any) => e.values.includes(s.metadata.labels[e.key])),
    );
    const scraped = selected.flatMap((s) => s.spec.ports.filter((p: any) => monitor.spec.endpoints.some((e: any) => e.port === p.name)).map((p: any) => `${s.metadata.labels['app.kubernetes.io/component']}:${p.name}`));
    expect(scraped.sort()).toEqual(['api:metrics', 'worker:metrics']);
    // The metrics port is the container's METRICS_PORT, apart from the traffic port; the traffic
    // Service (what the ingress routes to) does not expose it.
    for (const component of ['api', 'worker']) {
      const container = findObject<any>(objects, 'Deployment', `${FULLNAME}-${component}`).spec.template.spec.containers[0];
      const metricsPort = container.ports.find((p: any) => p.name === 'metrics');
      expect(envValue(container, 'METRICS_PORT')).toBe(String(metricsPort.containerPort));
      expect(container.ports.filter((p: any) => p.containerPort === metricsPort.containerPort)).toHaveLength(1);
    }
    const traffic = findObject<any>(objects, 'Service', `${FULLNAME}-api`);
    expect(traffic.spec.ports.map((p: any) => p.targetPort)).toEqual(['http']);
    expect(monitor.spec.endpoints.every((e: any) => e.path === '/metrics')).toBe(true);
  });

  it('alerts on 5xx ratio, p99 latency, dependencies, restarts and queues with the thresholds from values', () => {
    const rule = findObject<any>(scenario('all-on'), 'PrometheusRule', FULLNAME);
    const alerts = Object.fromEntries(rule.spec.groups.flatMap((g: any) => g.rules).filter((r: any) => r.alert).map((r: any) => [r.alert, r]));
    expect(Object.keys(alerts).sort()).toEqual([
      'AIGatewayAvailabilityBudgetBurn', 'AIGatewayBalanceDrift', 'AIGatewayBillingBudgetBurn', 'AIGatewayChannelBreakerOpen', 'AIGatewayChannelSuccessLow',
      'AIGatewayDependencyDown', 'AIGatewayFailoverRate', 'AIGatewayHigh5xxRatio', 'AIGatewayHighP99Latency', 'AIGatewayInference5xxRatio',
      'AIGatewayInferenceP99Latency', 'AIGatewayInferenceP99TTFT', 'AIGatewayLatencyBudgetBurn', 'AIGatewayMeteringBacklog',
      'AIGatewayMeteringDeadLetters', 'AIGatewayMeteringLag', 'AIGatewayPodRestarting', 'AIGatewayQueueBacklog', 'AIGatewayQueueFailedJobs',
      'AIGatewaySpoolBacklog',
    ]);
    expect(alerts.AIGatewayHigh5xxRatio.expr).toMatch(/status_code=~"5\.\."[\s\S]*> 0\.05\s*$/);
    expect(alerts.AIGatewayHigh5xxRatio.for).toBe('3m');
    expect(alerts.AIGatewayHighP99Latency.expr).toContain('histogram_quantile(0.99');
    expect(alerts.AIGatewayHighP99Latency.expr).toMatch(/> 1\.5\s*$/); // all-on sets thresholdSeconds: 1.5
    expect(alerts.AIGatewayHighP99Latency.expr).toContain('route!~"/v1/chat/completions|/v1/completions"');
    expect(alerts.AIGatewayDependencyDown.for).toBe('2m');
    expect(alerts.AIGatewayDependencyDown.expr).toMatch(/aigateway_dependency_up\{[^}]*\}\s*\)\s*== 0/);
    expect(alerts.AIGatewayPodRestarting.expr).toContain('kube_pod_container_status_restarts_total');
    expect(alerts.AIGatewayQueueBacklog.expr).toContain('queue="metering"}) > 5000');
    expect(alerts.AIGatewayQueueBacklog.expr).toContain('queue!~"mail|metering"}) > 1000');
    expect(alerts.AIGatewayQueueFailedJobs.expr).toContain('state="failed"}) > 50');
    // The product's own traffic (/v1) is answered before the HTTP metrics see it: its alerts read the inference metrics.
    expect(alerts.AIGatewayInference5xxRatio.expr).toMatch(/aigateway_inference_responses_total\{[^}]*code="5xx"[\s\S]*code!="closed"[\s\S]*> 0\.02\s*$/);
    expect(alerts.AIGatewayInferenceP99Latency.expr).toContain('sum by (model, le) (rate(aigateway_inference_duration_seconds_bucket{');
    expect(alerts.AIGatewayInferenceP99TTFT.expr).toContain('sum by (model, le) (rate(aigateway_inference_ttft_seconds_bucket{');
    expect(alerts.AIGatewayChannelSuccessLow.expr).toMatch(/outcome="ok"[\s\S]*< 0\.95/);
    expect(alerts.AIGatewayChannelBreakerOpen.expr).toMatch(/aigateway_channel_breaker_state\{[^}]*\}\) == 2/);
    expect(alerts.AIGatewayMeteringLag.expr).toMatch(/aigateway_metering_lag_seconds\{[^}]*\}\) > 300/);
    expect(alerts.AIGatewaySpoolBacklog.expr).toContain('aigateway_inference_spooled_settlements');
    expect(alerts.AIGatewayFailoverRate.expr).toContain('aigateway_inference_failovers_total');
    for (const alert of Object.values<any>(alerts)) {
      expect(alert.labels.severity).toMatch(/^(critical|warning)$/);
      expect(alert.annotations.summary).toBeTruthy();
      expect(alert.expr).toContain(`namespace="${NAMESPACE}"`); // never another release's series
    }
  });

  it('leaves out disabled alerts and empty groups', () => {
    const objects = render({
      values: {
        prometheusRule: {
          enabled: true,
          alerts: { AIGatewayPodRestarting: { enabled: false }, AIGatewayHighP99Latency: { enabled: false, thresholdSeconds: 9 } },
        },
      },
    });
    const rule = findObject<any>(objects, 'PrometheusRule', FULLNAME);
    expect(rule.spec.groups.map((g: any) => g.name)).toEqual(['aigateway-api', 'aigateway-dependencies', 'aigateway-inference', 'aigateway-metering', 'aigateway-queues', 'aigateway-slo']);
    expect(rule.spec.groups[0].rules.map((r: any) => r.alert)).toEqual(['AIGatewayHigh5xxRatio']);
  });

  it('records each SLI over the burn-rate windows and alerts on two windows at once, with thresholds from the objectives', () => {
    const rule = findObject<any>(scenario('all-on'), 'PrometheusRule', FULLNAME);
    const slo = rule.spec.groups.find((g: any) => g.name === 'aigateway-slo');
    const records = slo.rules.filter((r: any) => r.record).map((r: any) => r.record).sort();
    const expected = ['availability', 'billing', 'latency'].flatMap((sli) => ['1h', '30m', '5m', '6h'].map((w) => `aigateway:slo_${sli}_errors:ratio_rate${w}`)).sort();
    expect(records).toEqual(expected);
    const burns = slo.rules.filter((r: any) => r.alert);
    expect(burns.map((r: any) => `${r.labels.slo}/${r.labels.burn}/${r.labels.severity}`).sort()).toEqual([
      'availability/fast/critical', 'availability/slow/warning', 'billing/fast/critical', 'billing/slow/warning', 'latency/fast/critical', 'latency/slow/warning',
    ]);
    const fastAvailability = burns.find((r: any) => r.labels.slo === 'availability' && r.labels.burn === 'fast');
    // 14.4 x (1 - 0.999): over the last hour and the last five minutes.
    expect(fastAvailability.expr).toMatch(/ratio_rate1h\{namespace="aigateway"\} > 0\.0144\s+and\s+aigateway:slo_availability_errors:ratio_rate5m\{namespace="aigateway"\} > 0\.0144/);
    const latency = slo.rules.find((r: any) => r.record === 'aigateway:slo_latency_errors:ratio_rate5m');
    expect(latency.expr).toContain('aigateway_inference_ttft_seconds_bucket{namespace="aigateway",service="gw-aigateway-api",le="2.5"}[5m]');
    expect(latency.expr).toContain('stream="false",le="30"}[5m]');
  });

  it('rejects an SLO latency bound that is no bucket of the histogram (the ratio would read a series that does not exist)', () => {
    expect(renderError({ values: { prometheusRule: { enabled: true, slo: { latency: { ttftSeconds: 3 } } } } })).toMatch(/ttftSeconds/);
  });

  it('routes alerts through an AlertmanagerConfig with e-mail, Slack and Feishu/DingTalk webhook receivers, and refuses one without receivers', () => {
    const config = findObject<any>(scenario('all-on'), 'AlertmanagerConfig', FULLNAME);
    expect(config.metadata.labels.alertmanagerConfig).toBe('aigateway');
    expect(config.spec.route.receiver).toBe('oncall-email');
    const receivers = Object.fromEntries(config.spec.receivers.map((r: any) => [r.name, r]));
    expect(receivers['oncall-email'].emailConfigs[0].authPassword).toEqual({ name: 'alertmanager-smtp', key: 'password' });
    expect(receivers.slack.slackConfigs[0].apiURL).toEqual({ name: 'alertmanager-slack', key: 'url' });
    expect(receivers.feishu.webhookConfigs[0].urlSecret.name).toBe('alertmanager-feishu-bridge');
    expect(receivers.dingtalk.webhookConfigs[0].urlSecret.name).toBe('alertmanager-dingtalk-bridge');
    expect(scenario('defaults').filter((o) => o.kind === 'AlertmanagerConfig')).toEqual([]);
    expect(renderError({ values: { alertmanagerConfig: { enabled: true } } })).toMatch(/at least one receiver/);
  });

  it('ships every dashboard file as a ConfigMap the Grafana sidecar picks up', () => {
    const dashboards = scenario('all-on').filter((o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1') as any[];
    const files = dashboards.flatMap((d) => Object.keys(d.data)).sort();
    expect(files).toEqual(['api-overview.json', 'channels.json', 'dependencies.json', 'inference.json', 'process-health.json', 'queues.json', 'reseller.json', 'revenue.json']);
    for (const d of dashboards) {
      expect(d.metadata.annotations.grafana_folder).toBe('AIGateway');
      for (const json of Object.values<string>(d.data)) expect(() => JSON.parse(json)).not.toThrow();
    }
    expect(scenario('defaults').filter((o) => o.metadata.labels?.grafana_dashboard)).toEqual([]);
  });
});

describe('resource names', () => {
  it('stay unique and within the DNS label limit for the longest release name Helm accepts', () => {
    const release = 'r'.repeat(53);
    const objects = render({ releaseName: release, valuesFiles: [ALL_ON_VALUES] });
    const refs = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(new Set(refs).size).toBe(refs.length);
    // ConfigMap and Secret names are DNS subdomains (253); the others end up in labels or host names (63).
    for (const o of objects) {
      const limit = o.kind === 'ConfigMap' || o.kind === 'Secret' ? 253 : 63;
      expect({ ref: `${o.kind}/${o.metadata.name}`, fits: o.metadata.name.length <= limit }).toEqual({ ref: `${o.kind}/${o.metadata.name}`, fits: true });
    }
  });
});

describe('helm test', () => {
  it('checks /health/ready through the api Service', () => {
    const pod = scenario('defaults').find((o) => o.kind === 'Pod' && hookOf(o) === 'test') as any;
    expect(pod.spec.containers[0].args.at(-1)).toBe(`http://${FULLNAME}-api:80/health/ready`);
  });
});
