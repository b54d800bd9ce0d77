#!/usr/bin/env node
/** The `connect-task-loader` executable: the only place the process exits. */
import { main } from './cli/program.js';

process.exit(await main(process.argv));
