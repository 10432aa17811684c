// `npx blurspace <command>`: the command line, running the same engine in-process.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BackendPreference, type EngineInfo } from '../common/api';
import { preferenceFromEnvironment } from '../engine/backend';
import { Engine } from '../engine/engine';
import { SettingsStore, defaultConfigDir } from './settings';

const USAGE = `Usage: blurspace <command> [options]

Commands:
  info                 Backend, device, versions and the checkpoint in use.

Common options:
  --backend B          auto | gpu | wasm | cpu (default: the saved setting, or BLURSPACE_BACKEND)
  --checkpoint PATH    Model checkpoint to use
  --json               Machine-readable output
  -h, --help           This help`;

const OPTIONS = {
  backend: { type: 'string' },
  checkpoint: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function formatInfo(info: EngineInfo): string {
  const versions = Object.entries(info.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  return [
    `backend     ${info.backend}${info.gpu ? ' (GPU)' : ''}`,
    `device      ${info.device}`,
    `checkpoint  ${info.checkpoint.description}`,
    `versions    ${versions}`,
    `note        ${info.backendNote}`,
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  const [command] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 2;
  }
  const settings = SettingsStore.load(path.join(defaultConfigDir(), 'settings.json')).get();
  const backend = values.backend
    ? BackendPreference.parse(values.backend)
    : preferenceFromEnvironment(settings.backend);
  const engine = await Engine.create({
    backend,
    checkpointPath: values.checkpoint ?? settings.checkpointPath,
  });
  switch (command) {
    case 'info': {
      const info = engine.info();
      console.log(values.json ? JSON.stringify(info, null, 2) : formatInfo(info));
      return 0;
    }
    default:
      console.error(`Unknown command "${command}".\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`blurspace: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
