#!/usr/bin/env node
/** The `connect-task-loader` executable: the only place the process exits. */
import { SIGNAL_EXIT } from './cli/exit-codes.js';

/**
 * Until a command listens for them, SIGINT, SIGTERM and SIGHUP end the process as their default
 * action would, with 128 + the signal's number. Node's own handling of them relies on that default
 * action, which the kernel never takes for PID 1: as a container's first process (`node dist/cli.js`
 * in the image) a SIGTERM sent while the program starts, or while a command with no handler of its
 * own runs, would be dropped and the container killed at the end of its grace period. Installed
 * before the rest of the program is loaded, which takes a while (the AWS SDK).
 */
for (const [signal, code] of Object.entries(SIGNAL_EXIT)) {
  process.on(signal, () => {
    if (process.listenerCount(signal) === 1) process.exit(code);
  });
}

const { main } = await import('./cli/program.js');
process.exit(await main(process.argv));
