import type { ESLint } from 'eslint';

/** The layers of docs/ARCHITECTURE.md, lowest first (see layers.js). */
export const LAYERS: ReadonlyArray<{ dir: string; top?: boolean; only?: string[] }>;
declare const plugin: ESLint.Plugin;
export default plugin;
