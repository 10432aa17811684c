// Security review of the built Electron app with electronegativity (offline: the check that downloads
// Electron's release list is skipped). Fails on any HIGH or MEDIUM finding not justified in
// security/electronegativity.json.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const electronVersion = JSON.parse(readFileSync('node_modules/electron/package.json', 'utf8')).version;
const report = path.join(mkdtempSync(path.join(tmpdir(), 'blurspace-eneg-')), 'report.csv');
const run = spawnSync(
  'npx',
  [
    'electronegativity',
    '-i',
    'out',
    '-e',
    electronVersion,
    '-r',
    '-x',
    'AvailableSecurityFixesGlobalCheck',
    '-o',
    report,
  ],
  { encoding: 'utf8' },
);
if (run.status !== 0) {
  console.error(run.stdout, run.stderr);
  process.exit(1);
}
const { justified } = JSON.parse(readFileSync('security/electronegativity.json', 'utf8'));
const rows = readFileSync(report, 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((line) => line.split(',').map((cell) => cell.replace(/^"|"$/g, '')));
let unjustified = 0;
for (const [check, severity, confidence, file, location] of rows) {
  const reason = justified.find((j) => j.check === check && j.file === file)?.why;
  const serious = severity === 'HIGH' || severity === 'MEDIUM';
  if (serious && !reason) unjustified++;
  const verdict = !serious ? 'low' : reason ? 'justified' : 'NOT JUSTIFIED';
  console.log(`${severity.padEnd(13)} ${confidence.padEnd(9)} ${check} ${file}:${location}  [${verdict}]`);
}
console.log(`electronegativity: ${rows.length} findings, ${unjustified} high/medium not justified`);
process.exit(unjustified ? 1 : 0);
