// `npm test`: every check in one run — lint, format, types, build, security review (electronegativity),
// unit tests, end-to-end tests — then
// one closing line with the totals, `N passed, N failed, N skipped`. Exits non-zero if anything failed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';

const totals = { passed: 0, failed: 0, skipped: 0 };

function run(label, command, args) {
  console.log(`\n=== ${label}: ${command} ${args.join(' ')}`);
  const started = Date.now();
  const result = spawnSync(command, args, { stdio: 'inherit' });
  const ok = result.status === 0;
  console.log(`=== ${label}: ${ok ? 'ok' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return ok;
}

/** A check that is not a test runner counts as one test. */
function check(label, command, args) {
  const ok = run(label, command, args);
  totals[ok ? 'passed' : 'failed']++;
  return ok;
}

/** A test runner's own counts, read from its JSON report; a runner that crashed counts as one failure. */
function suite(label, command, args, report, count) {
  rmSync(report, { force: true });
  const ok = run(label, command, args);
  if (!existsSync(report)) {
    totals.failed++;
    return;
  }
  const counts = count(JSON.parse(readFileSync(report, 'utf8')));
  for (const key of Object.keys(totals)) totals[key] += counts[key];
  if (!ok && counts.failed === 0) totals.failed++; // the runner failed for another reason
}

mkdirSync('test-results', { recursive: true });
check('lint', 'npx', ['eslint', '.']);
check('format', 'npx', ['prettier', '--check', '.']);
check('typecheck', 'npm', ['run', '--silent', 'typecheck']);
const built = check('build', 'npx', ['electron-vite', 'build']);
if (built) check('security review', 'node', ['scripts/security-check.js']);

suite(
  'unit tests',
  'npx',
  ['vitest', 'run', '--reporter=default', '--reporter=json', '--outputFile=test-results/unit-report.json'],
  'test-results/unit-report.json',
  (r) => ({
    passed: r.numPassedTests,
    failed: r.numFailedTests,
    skipped: r.numPendingTests + r.numTodoTests,
  }),
);

if (built) {
  suite('end-to-end tests', 'npx', ['playwright', 'test'], 'test-results/e2e-report.json', (r) => ({
    passed: r.stats.expected + r.stats.flaky,
    failed: r.stats.unexpected,
    skipped: r.stats.skipped,
  }));
} else {
  console.log('=== end-to-end tests: not run, the build failed');
  totals.failed++;
}

console.log(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(totals.failed > 0 ? 1 : 0);
