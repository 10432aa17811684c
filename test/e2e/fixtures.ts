// The web bridge with the real engine behind it, started once per test file.
import { test as base } from '@playwright/test';
import { EMPTY_SESSION } from '../../src/common/api';
import type { EngineHost } from '../../src/host/engine-host';
import { startWebBridge, type WebBridge } from '../../src/bridge/web-bridge';
import { startTestEngine } from '../helpers/engine';
import { BUILT_RENDERER } from '../helpers/paths';

export const test = base.extend<{ emptyLibrary: void }, { bridge: WebBridge; engine: EngineHost }>({
  // The engine keeps the library (photos, versions, kernels) between page loads: each test starts empty.
  emptyLibrary: [
    async ({ engine }, use) => {
      await engine.invoke('saveSession', { session: EMPTY_SESSION });
      await use();
    },
    { auto: true },
  ],
  engine: [
    // Playwright requires the destructuring pattern even when no fixture is used.
    // eslint-disable-next-line no-empty-pattern
    async ({}, use) => {
      const engine = startTestEngine();
      await use(engine);
      await engine.close();
    },
    { scope: 'worker' },
  ],
  bridge: [
    async ({ engine }, use) => {
      const bridge = await startWebBridge({ engine, rendererDir: BUILT_RENDERER });
      await use(bridge);
      await bridge.close();
    },
    { scope: 'worker' },
  ],
});

export { expect } from '@playwright/test';
