/** `report <results.csv…>`: what a run did, from its results file(s) and the timeline beside them. */

import type { S3Client } from '@aws-sdk/client-s3';
import type { Command } from 'commander';
import { RunConfig } from '../../config/resolve.js';
import { checkOutputPath } from '../../ledger/files.js';
import { checkOutput, checkS3Output, HTML_REPORT, writeOutput, writeS3Output } from '../../ledger/outputs.js';
import { pulled, RemoteResults } from '../../ledger/remote.js';
import { stopResultsPath } from '../../ledger/stops.js';
import { renderHtml } from '../../report/html.js';
import { buildReport, type FileReport } from '../../report/model.js';
import { formatReport, reportJson } from '../../report/text.js';
import { s3Target } from '../../run/wiring.js';
import { createS3Client } from '../../s3/client.js';
import { isS3Url } from '../../s3/url.js';
import type { CliIo } from '../io.js';
import { addSettingOptions, givenFlags } from '../options.js';

const HELP = `
Reads only the Result.* columns (never row content), the run state <results>.run.json, the timeline
<results>.timeline.jsonl and the stop file of stop (<results without .csv>.stop.csv) beside each file, in
S3 too. Prints counts by status, failures by error code and invalid rows by rule (with example input
lines), the run's time span, rate and throttles, the tasks stopped, and the next command.

Examples:
  # After a run of samples/tasks.csv (see run --help)
  connect-task-loader report samples/tasks.results.csv
  connect-task-loader report samples/tasks.results.csv --json
  connect-task-loader report samples/tasks.results.csv --html tasks-report.html

Exit codes: 0 every row created (or filtered out) · 1 some rows failed or invalid · 2 a file cannot be read or is not a
            results file · 3 the run did not finish (resume it) · 70 internal error`;

export function addReportCommand(program: Command, setExit: (code: number) => void, io: CliIo): void {
  const cmd = program
    .command('report')
    .argument('<results.csv...>', 'results files of runs (or reruns)')
    .description(
      'summarise results file(s): counts, failures by code, invalid rows by rule, rate, next command; --html ' +
        'for a page',
    )
    .addHelpText('after', HELP);
  addSettingOptions(cmd, 'report').action(async (files: string[], _flags: unknown, self: Command) => {
    const flags = RunConfig.layered(
      { command: 'report', input: files[0]!, flags: givenFlags(self, 'report'), env: io.env },
      {},
      undefined,
      undefined,
    );
    const html = flags.get('html');
    let client: S3Client | undefined;
    const s3 = () => (client ??= createS3Client(s3Target(flags)));
    const pulledFiles: RemoteResults[] = [];
    const names = (text: string) => pulledFiles.reduce((t, r) => r.names(t), text);
    try {
      // The page replaces only an earlier page: never a results file, its run's files, an input or anything else.
      if (html && isS3Url(html)) await checkS3Output(s3(), html, flags.from('html'), HTML_REPORT, files);
      else if (html) {
        checkOutput(html, flags.from('html'), HTML_REPORT);
        for (const file of files) if (!isS3Url(file)) await checkOutputPath(html, flags.from('html'), undefined, file);
      }
      const reports = [];
      for (const file of files) {
        if (!isS3Url(file)) {
          reports.push(await buildReport(file));
          continue;
        }
        // Read from S3 into working copies, with the stop file beside it if any; the report names the objects.
        const remote = await pulled(s3(), file, 'report');
        pulledFiles.push(remote);
        const stops = await RemoteResults.open(s3(), stopResultsPath(file), 'report');
        pulledFiles.push(stops);
        // An unreadable stop file is left out of the report, as a local one is.
        await stops.pull().catch(() => undefined);
        reports.push(JSON.parse(names(JSON.stringify(await buildReport(remote.local, stops.local)))) as FileReport);
      }
      const exitCode = Math.max(...reports.map((r) => r.exitCode));
      if (html && isS3Url(html)) await writeS3Output(s3(), html, renderHtml(reports), flags.from('html'), HTML_REPORT);
      else if (html) await writeOutput(html, renderHtml(reports), 'HTML report');
      io.stdout.write(
        flags.get('json')
          ? `${reportJson(reports, exitCode)}\n`
          : `${reports.map(formatReport).join('\n\n')}\n${html ? `\nHTML report: ${html}\n` : ''}`,
      );
      setExit(exitCode);
    } catch (err) {
      if (err instanceof Error) err.message = names(err.message);
      throw err;
    } finally {
      for (const remote of pulledFiles) await remote.close();
      client?.destroy();
    }
  });
}
