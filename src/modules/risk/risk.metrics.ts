import { makeCounterProvider } from '@willsoto/nestjs-prometheus';

/** Risk flags raised by metering, by rule and action (worker). */
export const RISK_FLAGS_METRIC = 'aigateway_risk_flags_total';

export const riskMetricProviders = [
  makeCounterProvider({
    name: RISK_FLAGS_METRIC,
    help: 'Risk flags raised by rule and action (flag, suspend_key, suspend_customer_keys)',
    labelNames: ['rule', 'action'] as const,
  }),
];
