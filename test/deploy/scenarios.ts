/** The value sets the chart is rendered with by the deploy checks. */
import { ALL_ON_VALUES, K8sObject, render, RenderOptions } from './helm';

export const RELEASE = 'gw';
export const NAMESPACE = 'aigateway';
export const FULLNAME = 'gw-aigateway';
export const EXISTING_SECRET = 'aigateway-credentials';

const NO_CHART_SECRETS = {
  DATABASE_URL: '',
  DATABASE_SYSTEM_URL: '',
  DATABASE_ADMIN_URL: '',
  REDIS_URL: '',
  JWT_SIGNING_KEYS: '',
  CHANNEL_ENCRYPTION_KEYS: '',
  SMTP_URL: '',
  BOOTSTRAP_OWNER_PASSWORD: '',
};

export const SCENARIOS: Record<string, RenderOptions> = {
  defaults: {},
  'all-on': { valuesFiles: [ALL_ON_VALUES] },
  'all-on with existingSecret': { valuesFiles: [ALL_ON_VALUES], values: { existingSecret: EXISTING_SECRET, secrets: NO_CHART_SECRETS } },
  'worker HPA, fixed api replicas, no migration hook': {
    values: {
      api: { autoscaling: { enabled: false }, replicaCount: 3 },
      worker: { autoscaling: { enabled: true } },
      migration: { enabled: false },
      ingress: { enabled: true, platformHost: 'gateway.example.com', tls: { secretName: 'gateway-tls' } },
    },
  },
};

const cache = new Map<string, K8sObject[]>();

/** Rendered manifests of a scenario (rendered once per test file). */
export function scenario(name: keyof typeof SCENARIOS): K8sObject[] {
  let objects = cache.get(name);
  if (!objects) {
    objects = render({ releaseName: RELEASE, namespace: NAMESPACE, ...SCENARIOS[name] });
    cache.set(name, objects);
  }
  return objects;
}

export type PodSpec = {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: Record<string, any>;
  volumes?: Array<Record<string, any>>;
  [key: string]: any;
};
export type Container = {
  name: string;
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: any }>;
  envFrom?: Array<Record<string, any>>;
  ports?: Array<{ name: string; containerPort: number }>;
  securityContext?: Record<string, any>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
  resources?: Record<string, any>;
  [key: string]: any;
};

/** Kinds that carry a pod template, with the way to reach it. */
export function podSpecOf(object: K8sObject): PodSpec | undefined {
  const spec = object.spec as any;
  if (object.kind === 'Pod') return spec;
  if (['Deployment', 'Job', 'StatefulSet', 'DaemonSet'].includes(object.kind)) return spec.template.spec;
  return undefined;
}

export function podTemplateLabels(object: K8sObject): Record<string, string> {
  if (object.kind === 'Pod') return object.metadata.labels ?? {};
  return (object.spec as any).template.metadata.labels;
}

export function allContainers(pod: PodSpec): Container[] {
  return [...(pod.initContainers ?? []), ...pod.containers];
}

export const matchesSelector = (labels: Record<string, string>, selector: Record<string, string>): boolean =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);
