// What every CLI command is made of: its options (one table for the parser), its help, the checks on
// option values, and the rule that a result never replaces an input unless the user says so.
import path from 'node:path';
import type { parseArgs } from 'node:util';
import { inputKeys, replacesInput } from '../engine/core/fs-atomic';

export const OPTIONS = {
  backend: { type: 'string' },
  checkpoint: { type: 'string' },
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', short: 'q', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  output: { type: 'string', short: 'o' },
  'in-place': { type: 'boolean', default: false },
  sharp: { type: 'string' },
  blurry: { type: 'string' },
  kernel: { type: 'string' },
  uniform: { type: 'boolean', default: false },
  explicit: { type: 'boolean', default: false },
  name: { type: 'string' },
  config: { type: 'string' },
  out: { type: 'string' },
  resume: { type: 'boolean', default: false },
  'init-from': { type: 'string' },
  kind: { type: 'string' },
  split: { type: 'string' },
  size: { type: 'string' },
  n: { type: 'string', short: 'n' },
  seed: { type: 'string' },
  mode: { type: 'string' },
  roi: { type: 'string' },
  iterations: { type: 'string' },
  strength: { type: 'string' },
  learned: { type: 'boolean', default: false },
  guided: { type: 'boolean', default: false },
  'loss-log': { type: 'string' },
  trace: { type: 'string' },
  recursive: { type: 'boolean', short: 'r', default: false },
  preset: { type: 'string' },
  format: { type: 'string' },
  quality: { type: 'string' },
  'bit-depth': { type: 'string' },
  'on-conflict': { type: 'string' },
  'strip-metadata': { type: 'boolean', default: false },
  jobs: { type: 'string' },
  spatial: { type: 'boolean', default: false },
  pairs: { type: 'string' },
  targets: { type: 'string' },
} as const;

export type OptionName = keyof typeof OPTIONS;
export type Values = ReturnType<
  typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>
>['values'];

/** An option as a command's help shows it. */
export interface OptionHelp {
  name: OptionName;
  /** How it is written, e.g. `-o, --output OUT`. */
  flag: string;
  help: string;
}

export interface Command {
  name: string;
  /** One line for the list of commands. */
  summary: string;
  /** Its arguments, e.g. `PHOTO -o OUT [options]`. */
  usage: string;
  /** What it does (its --help). */
  description: string;
  /** The options it takes, besides --help. */
  options: OptionHelp[];
  /** Runs it; resolves to the exit code. */
  run(values: Values, args: string[]): Promise<number>;
}

/** A mistake in the command line: exit code 2, with the usage of the command it was for. */
export class UsageError extends Error {
  command?: Command;
}

// Options several commands take, with the same meaning in each.
export const BACKEND: OptionHelp = {
  name: 'backend',
  flag: '--backend B',
  help: 'auto | gpu | wasm | cpu (default: the saved setting, or BLURSPACE_BACKEND)',
};
export const CHECKPOINT: OptionHelp = {
  name: 'checkpoint',
  flag: '--checkpoint PATH',
  help: "Model checkpoint (ours .safetensors or the authors' .pth)",
};
export const QUIET: OptionHelp = { name: 'quiet', flag: '-q, --quiet', help: 'No progress bar' };
const HELP: OptionHelp = { name: 'help', flag: '-h, --help', help: 'This help' };

const WIDTH = 100;

/** `text` broken into lines of at most `width` characters (words are never split). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return line ? [...lines, line] : lines;
}

/** Two columns: terms on the left, their text wrapped beside them. */
function table(rows: Array<[string, string]>): string {
  const left = Math.min(24, Math.max(...rows.map(([term]) => term.length))) + 2;
  return rows
    .flatMap(([term, text]) => {
      const [first = '', ...rest] = wrap(text, WIDTH - 2 - left);
      const head =
        term.length + 2 > left
          ? [`  ${term}`, `  ${' '.repeat(left)}${first}`]
          : [`  ${term.padEnd(left)}${first}`];
      return [...head, ...rest.map((line) => `  ${' '.repeat(left)}${line}`)];
    })
    .join('\n');
}

export function commandUsage(command: Command): string {
  const head = `Usage: blurspace ${command.name} `;
  return wrap(command.usage, WIDTH - head.length)
    .join(`\n${' '.repeat(head.length)}`)
    .replace(/^/, head);
}

/** `blurspace <command> --help`. */
export function commandHelp(command: Command): string {
  return [
    commandUsage(command),
    '',
    wrap(command.description, WIDTH).join('\n'),
    '',
    'Options:',
    table([...command.options, HELP].map((option) => [option.flag, option.help])),
  ].join('\n');
}

/** `blurspace --help`: the commands. */
export function generalHelp(commands: Command[]): string {
  return [
    'Usage: blurspace <command> [options]',
    '',
    'Commands:',
    table(commands.map((command) => [command.name, command.summary])),
    '',
    'Run `blurspace <command> --help` for what a command does and its options.',
  ].join('\n');
}

/** The options given (as parsed: name, and as written) that `command` does not take, as written. */
export function foreignOptions(command: Command, given: Array<{ name: string; rawName: string }>): string[] {
  const taken = new Set<string>([HELP.name, ...command.options.map((option) => option.name)]);
  return [...new Set(given.filter((option) => !taken.has(option.name)).map((option) => option.rawName))];
}

export function required(value: string | undefined, flag: string): string {
  if (!value) throw new UsageError(`missing ${flag}`);
  return path.resolve(value);
}

export const optionalPath = (value: string | undefined): string | undefined =>
  value === undefined ? undefined : path.resolve(value);

export const optionalNumber = (text: string | undefined): number | undefined =>
  text === undefined ? undefined : Number(text);

/** A whole-number option of at least `min`, or its default. */
export function countOption(text: string | undefined, flag: string, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`${flag} wants a whole number of at least ${min}, got "${text}"`);
  }
  return value;
}

export function parseRegion(
  text: string | undefined,
): { x: number; y: number; width: number; height: number } | undefined {
  if (!text) return undefined;
  const parts = text.split(',').map(Number);
  if (parts.length !== 4 || parts.some((v) => !Number.isInteger(v) || v < 0)) {
    throw new UsageError(`--roi wants x,y,width,height in pixels, got "${text}"`);
  }
  const [x, y, width, height] = parts as [number, number, number, number];
  return { x, y, width, height };
}

/** A file a command writes, named by `flag`. */
export interface Output {
  flag: string;
  path: string | undefined;
  /** The command takes --in-place for this output: with it (`given`), the output may replace `input`. */
  inPlace?: { input: string; given: boolean };
}

/**
 * Refuses to run when an output is the same file as an input (real paths, links followed): a result never
 * replaces what it is made from unless --in-place says so. The same check as the batch's.
 */
export async function refuseToReplaceInputs(
  inputs: Array<string | undefined>,
  outputs: Output[],
): Promise<void> {
  const files = inputs.filter((file): file is string => file !== undefined).map((file) => path.resolve(file));
  const keys = await inputKeys(files);
  for (const { flag, path: output, inPlace } of outputs) {
    if (output === undefined) continue;
    const replaceable = inPlace?.given ? path.resolve(inPlace.input) : null;
    const guarded = replaceable ? await inputKeys(files.filter((file) => file !== replaceable)) : keys;
    if (await replacesInput(output, guarded)) {
      throw new UsageError(
        `${flag} '${output}' is the same file as an input: writing it would replace that input. ` +
          `Choose another ${flag}${inPlace ? ', or add --in-place to replace the original on purpose' : ''}.`,
      );
    }
  }
}
