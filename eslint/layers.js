// The import rule that keeps the layers apart: code may import its own folder and the layers below it,
// never a layer above it or a sibling at its level. docs/ARCHITECTURE.md draws the same table.
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');

/** Lowest first. A layer may import the layers listed before it; `only` narrows that list. */
export const LAYERS = [
  { dir: 'src/common' },
  { dir: 'src/engine/core' },
  { dir: 'src/engine/image' },
  { dir: 'src/engine/checkpoint' },
  { dir: 'src/engine/model' },
  { dir: 'src/engine/kernels' },
  { dir: 'src/engine/deblur' },
  { dir: 'src/engine/training' },
  { dir: 'src/engine/jobs' },
  { dir: 'src/engine/batch' },
  { dir: 'src/engine' }, // engine.ts and session.ts: what the host and the CLI drive
  { dir: 'src/host' },
  // The entry points: siblings, none imports another.
  { dir: 'src/main', top: true },
  { dir: 'src/bridge', top: true },
  { dir: 'src/cli', top: true },
  { dir: 'src/bench', top: true },
  // The UI side sees the contract only.
  { dir: 'src/preload', only: ['src/common'] },
  { dir: 'src/renderer', only: ['src/common'] },
];

/** The layer a project-relative path belongs to: the longest folder that contains it. */
function layerOf(relative) {
  let best = null;
  for (const layer of LAYERS) {
    const inside = relative === layer.dir || relative.startsWith(`${layer.dir}/`);
    if (inside && (!best || layer.dir.length > best.dir.length)) best = layer;
  }
  return best;
}

function allowed(from, to) {
  if (from === to) return true;
  if (from.only) return from.only.includes(to.dir);
  const fromIndex = LAYERS.indexOf(from);
  const toIndex = LAYERS.indexOf(to);
  if (to.top || to.only) return false;
  return toIndex < fromIndex;
}

const rule = {
  meta: {
    type: 'problem',
    docs: { description: 'Imports go down the layers of docs/ARCHITECTURE.md, never up or sideways.' },
    schema: [],
  },
  create(context) {
    const file = path.relative(ROOT, context.filename).split(path.sep).join('/');
    const from = layerOf(file);
    if (!from) return {};
    const check = (node) => {
      const spec = node.source?.value;
      if (typeof spec !== 'string' || !spec.startsWith('.')) return;
      const target = path
        .relative(ROOT, path.resolve(path.dirname(context.filename), spec))
        .split(path.sep)
        .join('/');
      const to = layerOf(target);
      if (!to || allowed(from, to)) return;
      context.report({
        node: node.source,
        message: `${from.dir} may not import ${to.dir} ("${spec}"): imports go down the layers (docs/ARCHITECTURE.md).`,
      });
    };
    return {
      ImportDeclaration: check,
      ExportNamedDeclaration: check,
      ExportAllDeclaration: check,
      ImportExpression: check,
    };
  },
};

export default { rules: { layers: rule } };
