/**
 * The published JSON Schema is the job file's check: it must list exactly the keys the code reads,
 * the task members the mapper knows, and every sample job file must pass it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { StartTaskContactCommandInput } from '@aws-sdk/client-connect';
import { describe, expect, it } from 'vitest';
import { checkJobFile, JOB_SCHEMA, jobSchema } from '../../src/config/job.js';
import { JOB_SETTING_KEYS } from '../../src/config/settings.js';
import { COMPOUND_MEMBERS, SCALAR_MEMBERS } from '../../src/input/columns.js';
import { compileFilter } from '../../src/input/filter.js';
import { compileMapping } from '../../src/input/map.js';

const ROOT = resolve(import.meta.dirname, '../..');
type Schema = { properties: Record<string, Schema & { properties?: Record<string, unknown> }> };
const schema = JOB_SCHEMA as unknown as Schema;

// Compile-time: every member the mapper fills is a member of the SDK's StartTaskContact input.
const members: (keyof StartTaskContactCommandInput)[] = [...SCALAR_MEMBERS, ...COMPOUND_MEMBERS];

describe('schema/job.schema.json', () => {
  it('lists exactly the keys the code reads: the job settings of the table, and the mapping', () => {
    expect(Object.keys(schema.properties).sort()).toEqual(
      ['$schema', 'description', ...JOB_SETTING_KEYS, 'columns', 'attributesFrom', 'task', 'where'].sort(),
    );
  });

  it('is the file as the settings table makes it (npm run schema writes it)', () => {
    const published = JSON.parse(readFileSync(join(ROOT, 'schema', 'job.schema.json'), 'utf8')) as unknown;
    expect(published).toEqual(jobSchema());
  });

  it('lists exactly the task members the mapper knows', () => {
    expect(Object.keys(schema.properties.task!.properties!).sort()).toEqual([...members].sort());
  });

  it('is the file the package publishes, and what its samples point editors to', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[] };
    expect(pkg.files).toContain('schema');
    const samples = readdirSync(join(ROOT, 'samples')).filter((f) => f.endsWith('.job.json'));
    expect(samples.length).toBeGreaterThanOrEqual(3);
    for (const name of samples) {
      const job = JSON.parse(readFileSync(join(ROOT, 'samples', name), 'utf8')) as Record<string, unknown>;
      expect(checkJobFile(job, name)).toBe(job);
      expect(job.$schema).toBe('../schema/job.schema.json');
    }
  });

  it.each([
    [{ rat: 2 }, 'unknown key "rat" (known: $schema, description'],
    [{ rate: 'fast' }, '"rate" must be number'],
    [{ burst: 0 }, '"burst" must be >= 1'],
    // A setting of several forms says its rule as its flag does, not the schema's branches.
    [{ maxFailures: 2.5 }, '"maxFailures" must be a count of failed rows (e.g. 50), a percentage of the rows'],
    [{ maxFailures: 'half' }, '"maxFailures" must be a count of failed rows (e.g. 50), a percentage of the rows'],
    [{ maxWait: '3d' }, '"maxWait" must be a duration such as 90s, 30m, 3h or 1h30m (or seconds), at most 24 days'],
    [{ task: { Nam: '{{x}}' } }, 'unknown key "task.Nam" (known: InstanceId'],
    [{ task: { Attributes: { 'ticket id': '{{x}}' } } }, '"task.Attributes" has a key "ticket id" that is not allowed'],
    [
      { task: { References: { crm: { Type: 'PHONE', Value: 'x' } } } },
      '"task.References.crm.Type" must be one of URL, NUMBER, STRING, DATE, EMAIL',
    ],
    [{ task: { Attachments: [{ FileName: '{{f}}' }] } }, '"task.Attachments.0" needs "S3Url"'],
    [
      { task: { SegmentAttributes: { x: 5 } } },
      '"task.SegmentAttributes.x" must be a template string or a SegmentAttributeValue object',
    ],
    [
      { task: { SegmentAttributes: { x: { ValueMapp: {} } } } },
      'unknown key "task.SegmentAttributes.x.ValueMapp" (known: ValueString',
    ],
    [{ attributesFrom: { except: ['a'] } }, '"attributesFrom" needs one of "prefix" or "unmapped"'],
    [{ columns: { Subject: 3 } }, '"columns.Subject" must be string'],
    [{ where: { column: 'A', equals: 'x' } }, '"where" must be array'],
    [
      { where: [{ column: 'A' }] },
      '"where[1]" must be a condition: {"column": …} with one of equals, in, matches, empty',
    ],
    [{ where: ['A = x'] }, '"where[1]" must be a condition'],
    [{ where: [{ equals: 'x' }] }, '"where[1]" needs "column" beside "equals"'],
    [{ where: [{ column: 'A', equals: 'x', in: ['y'] }] }, '"where[1]" has more than one operator'],
    [{ where: [{ column: 'A', equals: 5 }] }, '"where[1].equals" must be string'],
    [{ where: [{ column: 'A', empty: 'yes' }] }, '"where[1].empty" must be boolean'],
    [{ where: [{ column: 'A', in: [] }] }, '"where[1].in" must NOT have fewer than 1 items'],
    [
      { where: [{ column: 'A', matches: 'x'.repeat(1001) }] },
      '"where[1].matches" must NOT have more than 1000 characters',
    ],
    [
      { where: [{ column: 'A', not: { in: ['x'] } }] },
      '"where[1].not" needs "column" beside "in": "not" wraps a whole condition, {"not": {"column": "Ticket Status"',
    ],
    [
      { where: [{ not: { column: 'A', equals: 'x' }, ignoreCase: true }] },
      '"where[1]": ignoreCase goes beside "column" and its operator',
    ],
    [{ where: [{ column: 'A', equal: 'x' }] }, 'unknown key "where[1].equal" (known: column, equals, in, matches'],
    [
      { where: [{ column: 'A', equals: 'x' }, { anyOf: [{ column: 'A', equals: 'x' }, { column: 'B' }] }] },
      '"where[2].anyOf[2]" must be a condition',
    ],
  ])('refuses %j naming the key', (job, message) => {
    expect(() => checkJobFile(job, 'x.job.json')).toThrow(`x.job.json: ${message}`);
  });

  it('accepts what the code then compiles (schema and mapper agree on the shapes)', () => {
    const job = checkJobFile({
      timezone: 'Europe/London',
      strictColumns: true,
      columns: { Subject: 'Name' },
      attributesFrom: { prefix: 'attr_', except: ['attr_secret'] },
      task: {
        SegmentAttributes: {
          'connect:ContactExpiry': { ValueMap: { ExpiryDuration: { ValueInteger: '{{Minutes}}' } } },
          plain: '{{Subject}}',
        },
        Attachments: [{ FileName: '{{File}}', S3Url: '{{Url}}' }],
      },
    });
    const mapping = compileMapping(['Subject', 'Minutes', 'File', 'Url', 'attr_secret', 'attr_tier'], {
      task: job.task,
      columns: job.columns,
      attributesFrom: job.attributesFrom,
    });
    expect(mapping.used).toEqual([true, true, true, true, false, true]);
  });

  it('accepts every shape of condition the filter compiles', () => {
    const where = [
      { column: 'Ticket Status', in: ['Open', 'Pending'], ignoreCase: true },
      { column: 'Ticket Status', equals: '' },
      { column: 'Notes', matches: '^x', ignoreCase: false },
      { column: 'Notes', empty: false },
      { not: { column: 'Ticket Status', equals: 'Closed' } },
      { anyOf: [{ column: 'Notes', empty: true }, { not: { anyOf: [{ column: 'Notes', equals: 'y' }] } }] },
    ];
    expect(checkJobFile({ where }).where).toBe(where);
    expect(compileFilter(where, ['Ticket Status', 'Notes']).conditions).toHaveLength(6);
    expect(checkJobFile({ where: [] }).where).toEqual([]);
  });
});
