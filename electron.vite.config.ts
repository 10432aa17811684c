import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import type { Plugin } from 'vite';
import { CONTENT_SECURITY_POLICY } from './src/host/security';

// The page carries the same policy the web bridge sends as a header (file:// pages get no headers).
const cspMeta: Plugin = {
  name: 'blurspace-csp',
  transformIndexHtml: () => [
    {
      tag: 'meta',
      attrs: { 'http-equiv': 'Content-Security-Policy', content: CONTENT_SECURITY_POLICY },
      injectTo: 'head-prepend',
    },
  ],
};

export default defineConfig({
  main: {
    build: {
      rolldownOptions: {
        // Node entry points sharing one engine: the Electron main process, the engine worker thread, the
        // web bridge server, the CLI and the benchmarks.
        input: {
          index: resolve(__dirname, 'src/main/index.ts'),
          'engine-worker': resolve(__dirname, 'src/host/engine-worker.ts'),
          // Deconvolution tiles on the other cores (src/engine/core/tile-threads.ts finds it beside the engine).
          'deconvolution-worker': resolve(__dirname, 'src/engine/deblur/deconvolution-worker.ts'),
          // The learned restorer's tiles, likewise (src/engine/deblur/learned-restore.ts).
          'restorer-worker': resolve(__dirname, 'src/engine/deblur/restorer-worker.ts'),
          // The learned mode's network tiles, likewise (src/engine/deblur/learned-mode.ts).
          'learned-mode-worker': resolve(__dirname, 'src/engine/deblur/learned-mode-worker.ts'),
          // Fast mode's second blur estimate, beside the first (src/engine/deblur/fast-mode.ts).
          'blind-estimate-worker': resolve(__dirname, 'src/engine/deblur/blind-estimate-worker.ts'),
          // Fast mode's results as the restorer's training inputs (src/engine/training/fast-mode-inputs.ts).
          'fast-mode-worker': resolve(__dirname, 'src/engine/training/fast-mode-worker.ts'),
          serve: resolve(__dirname, 'src/bridge/serve.ts'),
          cli: resolve(__dirname, 'src/cli/cli.ts'),
          'bench-engine': resolve(__dirname, 'src/bench/engine.ts'),
          'bench-deblur': resolve(__dirname, 'src/bench/deblur.ts'),
          'bench-model': resolve(__dirname, 'src/bench/model.ts'),
          'bench-robustness': resolve(__dirname, 'src/bench/robustness.ts'),
        },
        // Shared chunks sit beside the entries, so paths relative to import.meta.url are the same in all.
        output: { chunkFileNames: '[name]-[hash].js' },
      },
    },
  },
  preload: {
    // CommonJS so the renderer can stay sandboxed.
    build: { rolldownOptions: { output: { format: 'cjs', entryFileNames: '[name].cjs' } } },
  },
  renderer: {
    root: resolve(__dirname, 'src/renderer'),
    plugins: [svelte({ configFile: resolve(__dirname, 'svelte.config.js') }), cspMeta],
    build: { rolldownOptions: { input: resolve(__dirname, 'src/renderer/index.html') } },
  },
});
