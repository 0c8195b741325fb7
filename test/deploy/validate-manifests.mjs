// Validates Kubernetes manifests against the schemas shipped in kubernetes-models (Kubernetes API),
// @kubernetes-models/prometheus-operator and @kubernetes-models/keda.
//
// Run as a separate Node process (see k8s-schema.ts): these packages are ES modules only, which
// Jest's CommonJS runtime cannot load.
//
// Input on stdin: JSON array of manifests. Output on stdout: JSON array, one entry per manifest:
//   { ref: "Kind/name", errors: string[] }
//
// Two checks per manifest, both must pass:
//   1. the model's JSON-schema validation (types, required fields, formats, enums);
//   2. a TypeScript excess-property check against the model's interface, which catches unknown or
//      misspelt fields (e.g. `readOnlyRootFileSystem`) that the JSON schemas silently allow and the
//      API server would drop or reject.
// A kind with no model is an error, never a pass.
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(ROOT, 'package.json'));
const ts = require('typescript');

/** Model package of an API group. */
function modelPackage(apiVersion) {
  const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
  if (group === 'monitoring.coreos.com') return '@kubernetes-models/prometheus-operator';
  if (group === 'keda.sh' || group === 'eventing.keda.sh') return '@kubernetes-models/keda';
  if (group === '' || group.endsWith('.k8s.io') || !group.includes('.')) return 'kubernetes-models';
  return undefined;
}

async function loadModel(manifest) {
  const { apiVersion, kind } = manifest ?? {};
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return { error: 'apiVersion and kind must be strings' };
  const pkg = modelPackage(apiVersion);
  if (!pkg) return { error: `no schema package for apiVersion ${apiVersion}` };
  const specifier = `${pkg}/${apiVersion}/${kind}`;
  let module;
  try {
    module = await import(specifier);
  } catch {
    return { error: `no schema for ${apiVersion} ${kind} (looked for ${specifier})` };
  }
  const Model = module[kind];
  if (typeof Model !== 'function' || typeof Model.prototype.validate !== 'function') {
    return { error: `${specifier} exports no model class ${kind}` };
  }
  return { Model, specifier };
}

function schemaErrors(Model, manifest) {
  try {
    new Model(manifest).validate();
    return [];
  } catch (error) {
    const details = Array.isArray(error.errors)
      ? error.errors.map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword} ${e.params ? JSON.stringify(e.params) : ''}`.trim())
      : [String(error.message ?? error)];
    return details;
  }
}

/** Excess-property and type check of all manifests in one TypeScript program. */
function typeErrors(items) {
  const dir = path.join(ROOT, '.tools', 'k8s-typecheck');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `manifests-${process.pid}-${Date.now()}.ts`);
  const lines = [];
  items.forEach((item, i) => {
    if (item.specifier) lines.push(`import type { I${item.kind} as T${i} } from ${JSON.stringify(item.specifier)};`);
  });
  const firstDataLine = lines.length;
  items.forEach((item, i) => {
    // One manifest per line, so a diagnostic's line number tells which manifest it is about.
    lines.push(item.specifier ? `export const m${i}: T${i} = ${JSON.stringify(item.manifest)};` : `// ${i} skipped`);
  });
  fs.writeFileSync(file, lines.join('\n') + '\n');
  try {
    const program = ts.createProgram([file], {
      noEmit: true,
      strict: true,
      skipLibCheck: true,
      types: [],
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
    });
    const byItem = new Map();
    for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ');
      let index = -1;
      if (diagnostic.file && diagnostic.file.fileName === file.replaceAll(path.sep, '/') && diagnostic.start !== undefined) {
        const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
        index = line - firstDataLine;
      }
      if (index < 0 || index >= items.length) throw new Error(`type check failed outside the manifests: ${message}`);
      const list = byItem.get(index) ?? [];
      list.push(message.length > 400 ? `${message.slice(0, 400)}...` : message);
      byItem.set(index, list);
    }
    return byItem;
  } finally {
    fs.rmSync(file, { force: true });
  }
}

async function main() {
  const input = JSON.parse(fs.readFileSync(0, 'utf8'));
  const items = [];
  for (const manifest of input) {
    const ref = `${manifest?.kind}/${manifest?.metadata?.name}`;
    const loaded = await loadModel(manifest);
    if (loaded.error) {
      items.push({ ref, manifest, errors: [loaded.error] });
      continue;
    }
    items.push({ ref, manifest, kind: manifest.kind, specifier: loaded.specifier, errors: schemaErrors(loaded.Model, manifest) });
  }
  const types = typeErrors(items);
  const results = items.map((item, i) => ({ ref: item.ref, errors: [...item.errors, ...(types.get(i) ?? []).map((m) => `type check: ${m}`)] }));
  process.stdout.write(JSON.stringify(results));
}

main().catch((error) => {
  process.stderr.write(String(error?.stack ?? error));
  process.exit(2);
});
