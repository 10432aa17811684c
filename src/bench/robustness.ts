// `npm run bench:robustness`: the bad-input corpus through the photo reader and the model loader, counted.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeBadInputs, tryInput, type Outcome } from '../../test/fixtures/bad-inputs';
import { initBackend } from '../engine/core/backend';
import { readPhoto } from '../engine/image';
import { loadModel } from '../engine/model/model-store';
import { APP_ROOT } from '../host/paths';
import { printTable } from './report';

await initBackend('auto');
const dir = await mkdtemp(path.join(os.tmpdir(), 'blurspace-robustness-'));
const fixtures = path.join(APP_ROOT, 'test', 'fixtures');
try {
  const cases = await makeBadInputs(dir, fixtures);
  const counts: Record<Outcome, number> = { accepted: 0, 'clear error': 0, crash: 0 };
  const rows: string[][] = [];
  for (const input of cases) {
    const { outcome, message } = await tryInput(input, (file) =>
      input.kind === 'photo' ? readPhoto(file) : loadModel(file).then(({ model }) => model.dispose()),
    );
    counts[outcome]++;
    rows.push([input.kind, input.name, outcome, message.split('\n')[0]!.slice(0, 90)]);
  }
  printTable(['kind', 'case', 'outcome', 'message'], rows);
  console.log(
    `\n${cases.length} cases tried: ${counts.accepted} accepted (valid files), ` +
      `${counts['clear error']} clear errors, ${counts.crash} crashes`,
  );
  process.exitCode = counts.crash ? 1 : 0;
} finally {
  await rm(dir, { recursive: true, force: true });
}
