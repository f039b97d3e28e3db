// The `cds` command: one file per subcommand, each calling the same modules as the server.
import { Command, CommanderError } from 'commander';
import winston from 'winston';
import { CdsError, StartupError } from '../errors.js';
import { loadConfig, readCliSettings, type Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { CliIo } from './io.js';
import { uptakeCommand } from './uptake.js';
import { experimentCommand } from './experiment.js';
import { shadowCommand } from './shadow.js';
import { validateCommand } from './validate.js';
import { evalCommand } from './eval.js';
import { testCommand } from './test.js';
import { bumpCommand, newCommand } from './new-bump.js';
import { releaseCommand, retireCommand } from './lifecycle.js';
import { simulateCommand } from './simulate.js';
import { requestCommand } from './request.js';
import { replayCommand } from './replay.js';
import { prefetchCommand } from './prefetch.js';
import { productVersion } from '../paths.js';

const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Runs `cds` with the given arguments (without node and the script); resolves to the exit code. */
export async function runCli(
  args: string[],
  { io = processIo, env = process.env }: { io?: CliIo; env?: NodeJS.ProcessEnv } = {},
): Promise<number> {
  let config: Config | undefined;
  const getConfig = (): Config => (config ??= loadConfig(env, { requireAuthSettings: false }));
  // Logs go to stderr so that stdout holds only the report.
  const getLogger = (): Logger =>
    winston.createLogger({
      level: readCliSettings(env).logLevel,
      format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
      transports: [
        new winston.transports.Console({
          stderrLevels: ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'],
        }),
      ],
    });
  const program = new Command('cds')
    .description('CDS Hooks engine tools')
    .version(productVersion(), '-V, --version', 'print the version and exit')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .addCommand(uptakeCommand(io, getConfig, getLogger))
    .addCommand(experimentCommand(io, getConfig, getLogger))
    .addCommand(shadowCommand(io, getConfig, getLogger))
    .addCommand(validateCommand(io, env))
    .addCommand(evalCommand(io, env))
    .addCommand(requestCommand(io, env))
    .addCommand(replayCommand(io))
    .addCommand(prefetchCommand(io, env))
    .addCommand(testCommand(io, env))
    .addCommand(newCommand(io, env))
    .addCommand(bumpCommand(io, env))
    .addCommand(releaseCommand(io, env, getLogger))
    .addCommand(retireCommand(io, env))
    .addCommand(simulateCommand(io));
  // Commands added with addCommand() do not inherit these: without them a usage error in a subcommand would end
  // the process (and its output would bypass io).
  const inherit = (command: Command): void => {
    for (const sub of command.commands) {
      sub.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
      inherit(sub);
    }
  };
  inherit(program);
  try {
    await program.parseAsync(args, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof StartupError) {
      io.stderr(`${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof CdsError) {
      // The database's own reason helps whoever runs the command; it names no patient data.
      // So does where CQL evaluation failed: the person running the command is the one who may see the data.
      const reason =
        err.code === 'uptake-unavailable' && err.internal
          ? ` (${err.internal})`
          : err.code === 'evaluation-failed' && err.internal
            ? `: ${err.internal}`
            : '';
      io.stderr(`${err.issues.map((i) => i.diagnostics).join('\n')}${reason}\n`);
      return err.status < 500 ? 2 : 1;
    }
    io.stderr(`cds: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
