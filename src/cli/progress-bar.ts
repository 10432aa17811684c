// A one-line progress bar on stderr for the CLI; plain lines when stderr is not a terminal.
import type { EngineEvent } from '../common/api';

type Update = Pick<Extract<EngineEvent, { type: 'jobProgress' }>, 'stage' | 'progress' | 'etaSeconds'> & {
  detail?: string;
};

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

export function createProgressBar(quiet: boolean): { update(u: Update): void; done(): void } {
  const tty = process.stderr.isTTY;
  let lastStage = '';
  let lastTenth = -1;
  let drawn = false;
  return {
    update({ stage, progress, etaSeconds, detail }) {
      if (quiet) return;
      const percent = Math.round(progress * 100);
      const eta = etaSeconds === null ? '' : ` ETA ${formatDuration(etaSeconds)}`;
      const text = `${stage} ${percent}%${eta}${detail ? ` ${detail}` : ''}`;
      if (tty) {
        const width = 24;
        const filled = Math.round(progress * width);
        process.stderr.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}\x1b[K`);
        drawn = true;
      } else if (stage !== lastStage || Math.floor(progress * 10) !== lastTenth) {
        process.stderr.write(`${text}\n`);
      }
      lastStage = stage;
      lastTenth = Math.floor(progress * 10);
    },
    done() {
      if (drawn) process.stderr.write('\n');
    },
  };
}
