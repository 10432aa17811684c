// `npm run serve`: the engine behind the web bridge, for a browser on this machine.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { EngineHost } from '../host/engine-host';
import { RENDERER_DIR, WORKER_PATH } from '../host/paths';
import { SettingsStore, defaultConfigDir, defaultDataDir } from '../host/settings';
import { startWebBridge } from './web-bridge';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    'allow-remote': { type: 'boolean', default: false },
    // Jobs may write into the workspace and these folders only (repeatable).
    'output-dir': { type: 'string', multiple: true, default: [] },
  },
});

const settings = SettingsStore.load(path.join(defaultConfigDir(), 'settings.json'));
const engine = new EngineHost({
  workerPath: WORKER_PATH,
  settings,
  workspaceDir: path.join(defaultDataDir(), 'workspace'),
  outputDirs: values['output-dir'],
  outputHint: (folder) => `To allow “${folder}”, restart with \`npm run serve -- --output-dir "${folder}"\`.`,
});
try {
  const bridge = await startWebBridge({
    engine,
    rendererDir: RENDERER_DIR,
    host: values.host,
    port: Number(values.port),
    allowRemote: values['allow-remote'],
  });
  console.log(`Blurspace is serving on ${bridge.url}`);
  console.log(`Open this address in a browser (it carries this run's access token):\n  ${bridge.openUrl}`);
  console.log('Results are written only into these folders (add more with --output-dir DIR):');
  for (const folder of engine.outputFolders()) console.log(`  ${folder}`);
  const stop = (): void => {
    void Promise.all([bridge.close(), engine.close()]).then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  await engine.close();
  process.exit(1);
}
