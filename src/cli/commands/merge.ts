/** `merge <results.csv…> --results <out.csv>`: shard results (or a run and its reruns) into one file. */
import { resolve } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Command } from 'commander';
import { RunConfig } from '../../config/resolve.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../emulator/service.js';
import { UsageError } from '../../errors.js';
import { mergeResults } from '../../ledger/merge.js';
import { pulled, RemoteResults, resultsUnder } from '../../ledger/remote.js';
import { s3Target } from '../../run/wiring.js';
import { createS3Client } from '../../s3/client.js';
import { isS3Url } from '../../s3/url.js';
import { EXIT } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { addSettingOptions, givenFlags } from '../options.js';

export function addMergeCommand(program: Command, setExit: (code: number) => void, io: CliIo): void {
  const cmd = program
    .command('merge')
    .argument(
      '<results.csv...>',
      'results files of one input: its shards, or a run and its reruns, in any order; s3://bucket/prefix/ for every one under it',
    )
    .description('join results files of one input into one complete results file ordered by Result.Line')
    .addHelpText(
      'after',
      `
A rerun's row (its <results>.run.json names the file it reran) replaces the earlier row of its line;
two other files holding the same line overlap, and the merge is refused, as are files of different inputs.
Exit codes: 0 every row created (or filtered) · 1 some rows failed or invalid · 2 refused (nothing written)

Every shard of a --shard i/n split must be given (a missing one is refused). The merged file gets a run
state of its own, so rerun and report take it like any results file.

Examples:
  # Two workers on one input (each writes its own results file and holds its own lock), then one file
  connect-task-loader run samples/tasks.csv --shard 1/2 --endpoint http://127.0.0.1:4566 --rate 20 \\
      --instance-id ${DEMO_INSTANCE_ID} --contact-flow-id ${DEMO_CONTACT_FLOW_ID}
  connect-task-loader run samples/tasks.csv --shard 2/2 --endpoint http://127.0.0.1:4566 --rate 20 \\
      --instance-id ${DEMO_INSTANCE_ID} --contact-flow-id ${DEMO_CONTACT_FLOW_ID}
  connect-task-loader merge samples/tasks.shard-1-of-2.results.csv samples/tasks.shard-2-of-2.results.csv \\
      --results samples/tasks.merged.csv`,
    );
  addSettingOptions(cmd, 'merge').action(async (files: string[], _flags: unknown, self: Command) => {
    const flags = RunConfig.layered(
      { command: 'merge', input: files[0]!, flags: givenFlags(self, 'merge'), env: io.env },
      {},
      undefined,
      undefined,
    );
    const results = flags.get('results');
    if (!results)
      throw new UsageError('merge needs --results <out.csv>: the merged results file (it must not exist yet)');
    let client: S3Client | undefined;
    const s3 = () => (client ??= createS3Client(s3Target(flags)));
    const remotes: RemoteResults[] = [];
    const names = (text: string) => remotes.reduce((t, r) => r.names(t), text);
    try {
      // A prefix (`s3://b/shards/`) stands for every results file under it; an S3 file is read into a working copy.
      const locals: string[] = [];
      for (const file of files) {
        const objects = isS3Url(file)
          ? /^s3:\/\/[^/]+\/?$|\/$/.test(file)
            ? await resultsUnder(s3(), file)
            : [file]
          : [];
        if (isS3Url(file) && objects.length === 0)
          throw new UsageError(`${file} holds no results files (objects with a .run.json beside them)`);
        if (!isS3Url(file)) locals.push(file);
        for (const object of objects) {
          const remote = await pulled(s3(), object, 'merge');
          remotes.push(remote);
          locals.push(remote.local);
        }
      }
      let out: RemoteResults | undefined;
      if (isS3Url(results)) {
        out = await RemoteResults.open(s3(), results);
        remotes.push(out);
        await out.assertAbsent();
      }
      const s = await mergeResults(locals, out?.local ?? results);
      await out?.publish();
      io.stdout.write(
        `Merged ${s.files} files: ${s.rows} rows — ${s.created} created, ${s.failed} failed, ${s.invalid} invalid` +
          `${s.filtered ? `, ${s.filtered} filtered` : ''}` +
          `${s.superseded ? ` (${s.superseded} rows replaced by a rerun's)` : ''}\n` +
          `Results: ${out ? out.url : resolve(s.results)}\n`,
      );
      // Filtered rows were never meant to be sent: they leave nothing to do.
      setExit(s.rows > 0 && s.created + s.filtered === s.rows ? EXIT.ok : EXIT.rowsFailed);
    } catch (err) {
      if (err instanceof Error) err.message = names(err.message);
      throw err;
    } finally {
      for (const remote of remotes) await remote.close();
      client?.destroy();
    }
  });
}
