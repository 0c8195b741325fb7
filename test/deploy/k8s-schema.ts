import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import type { K8sObject } from './helm';

export interface ValidationResult {
  ref: string;
  errors: string[];
}

/**
 * Validates manifests against the Kubernetes / prometheus-operator / KEDA schemas of
 * kubernetes-models, plus a strict unknown-field check (see validate-manifests.mjs).
 */
export function validateManifests(manifests: K8sObject[]): ValidationResult[] {
  const result = spawnSync(process.execPath, [path.join(__dirname, 'validate-manifests.mjs')], {
    input: JSON.stringify(manifests),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) throw new Error(`validate-manifests.mjs failed (${result.status}): ${result.stderr}`);
  return JSON.parse(result.stdout) as ValidationResult[];
}

/** "Kind/name: error" lines of every invalid manifest. */
export function validationFailures(manifests: K8sObject[]): string[] {
  return validateManifests(manifests).flatMap((r) => r.errors.map((e) => `${r.ref}: ${e}`));
}
