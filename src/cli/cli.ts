// `npx blurspace <command>`: the command line, running the same engine in-process.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { JobCancelledError } from '../engine/core/progress';
import {
  commandHelp,
  commandUsage,
  foreignOptions,
  generalHelp,
  OPTIONS,
  UsageError,
  type Command,
} from './command';
import { COMMANDS } from './commands';

const findCommand = (name: string | undefined): Command | undefined =>
  COMMANDS.find((command) => command.name === name);

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, tokens: true });
  } catch (error) {
    // The parser's own mistakes (an unknown option, a missing value) are usage mistakes too.
    if (!(error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) throw error;
    const mistake = new UsageError((error as Error).message);
    const loose = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: false });
    mistake.command = findCommand(loose.positionals[0]);
    throw mistake;
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals, tokens } = parse(argv);
  const [name, ...args] = positionals;
  if (!name) {
    console.log(generalHelp(COMMANDS));
    return values.help ? 0 : 2;
  }
  const command = findCommand(name);
  if (!command) throw new UsageError(`unknown command "${name}"`);
  if (values.help) {
    console.log(commandHelp(command));
    return 0;
  }
  try {
    const foreign = foreignOptions(
      command,
      tokens.flatMap((token) => (token.kind === 'option' ? [token] : [])),
    );
    if (foreign.length) throw new UsageError(`${name} does not take ${foreign.join(', ')}`);
    return await command.run(values, args);
  } catch (error) {
    if (error instanceof UsageError) error.command ??= command;
    throw error;
  }
}

/** After a usage mistake: the command's usage line, or the list of commands. */
function usageHint(command: Command | undefined): string {
  return command
    ? `${commandUsage(command)}\nRun \`blurspace ${command.name} --help\` for its options.`
    : generalHelp(COMMANDS);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof z.ZodError) {
      console.error(`blurspace: invalid options:\n${z.prettifyError(error)}`);
      process.exit(2);
    }
    if (error instanceof UsageError) {
      console.error(`blurspace: ${error.message}\n\n${usageHint(error.command)}`);
      process.exit(2);
    }
    if (error instanceof JobCancelledError) {
      console.error('blurspace: cancelled; nothing was written.');
      process.exit(130);
    }
    console.error(`blurspace: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
