// The layer rule (eslint/layers.js) on planted imports: it must fail an upward or sideways import and
// pass a downward one, through ESLint with the project's own configuration.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { LAYERS } from '../../eslint/layers.js';

const eslint = new ESLint({ cwd: process.cwd() });

async function layerErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result.messages.filter((m) => m.ruleId === 'blurspace/layers').map((m) => m.message);
}

describe('the layer rule', () => {
  it('fails an upward import (engine core importing a feature)', async () => {
    const errors = await layerErrors(
      'src/engine/core/planted.ts',
      "import { KernelWizard } from '../model/kernel-wizard';\nexport const x = KernelWizard;\n",
    );
    expect(errors).toEqual([expect.stringContaining('src/engine/core may not import src/engine/model')]);
  });

  it('fails a re-export and a dynamic import that go up', async () => {
    const errors = await layerErrors(
      'src/engine/deblur/planted.ts',
      "export * from '../batch/plan';\nexport const later = () => import('../../host/settings');\n",
    );
    expect(errors).toHaveLength(2);
  });

  it('fails a sideways import between entry points', async () => {
    const errors = await layerErrors('src/cli/planted.ts', "export { x } from '../bridge/serve';\n");
    expect(errors).toEqual([expect.stringContaining('src/cli may not import src/bridge')]);
  });

  it('keeps the renderer on the contract only', async () => {
    const errors = await layerErrors(
      'src/renderer/src/lib/planted.ts',
      "import { Engine } from '../../../engine/engine';\nimport { calls } from '../../../common/api';\nexport const y = [Engine, calls];\n",
    );
    expect(errors).toHaveLength(1);
  });

  it('passes imports that go down or stay in the folder', async () => {
    const errors = await layerErrors(
      'src/engine/deblur/planted.ts',
      "import { GRID_CELL } from '../core/tiling';\nimport { psfFromKernel } from './fast-mode';\nimport type { JobSpec } from '../../common/api';\nexport const z = [GRID_CELL, psfFromKernel] as unknown as JobSpec;\n",
    );
    expect(errors).toEqual([]);
  });
});

describe('the layout', () => {
  const folders = (dir: string) =>
    readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => `${dir}/${entry.name}`);
  const tree = [...folders('src'), ...folders('src/engine')].filter((dir) => dir !== 'src/engine');

  it('has a layer for every folder of src and src/engine, and a folder for every layer', () => {
    const layers = LAYERS.map((layer) => layer.dir);
    expect(tree.filter((dir) => !layers.includes(dir))).toEqual([]);
    expect(layers.filter((dir) => !existsSync(dir))).toEqual([]);
  });

  it('is the one docs/ARCHITECTURE.md describes', () => {
    const architecture = readFileSync('docs/ARCHITECTURE.md', 'utf8');
    expect(tree.filter((dir) => !architecture.includes(`\`${dir}\``))).toEqual([]);
  });
});
