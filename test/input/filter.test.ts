/** Row filters: conditions on cells, compiled against a header; which condition left a record out. */
import { describe, expect, it } from 'vitest';
import { type Condition, compileFilter, describeCondition, nestedRepetition } from '../../src/input/filter.js';

const HEADER = ['Ticket ID', 'Ticket Status', 'Notes', ' Channel '];

/** Which condition (1-based, as messages number them) leaves out a record with these cells; 0: none. */
function excludedBy(where: Condition[], cells: Record<string, string>): number {
  const values = HEADER.map((h) => cells[h] ?? '');
  const i = compileFilter(where, HEADER).exclude(values);
  return i === undefined ? 0 : i + 1;
}

const status = (s: string) => ({ 'Ticket Status': s });

describe('compileFilter: which record passes', () => {
  it.each<[string, Condition[], Record<string, string>, number]>([
    ['no condition: every record passes', [], status('Closed'), 0],
    ['equals: exact', [{ column: 'Ticket Status', equals: 'Open' }], status('Open'), 0],
    ['equals: case differs', [{ column: 'Ticket Status', equals: 'Open' }], status('open'), 1],
    ['equals: a padded cell differs', [{ column: 'Ticket Status', equals: 'Open' }], status(' Open '), 1],
    [
      'equals, ignoreCase: case and spaces around do not count',
      [{ column: 'Ticket Status', equals: 'open ', ignoreCase: true }],
      status('\u00a0OPEN\t'),
      0,
    ],
    [
      'equals, ignoreCase: spaces inside still count',
      [{ column: 'Ticket Status', equals: 'Pending Customer Response', ignoreCase: true }],
      status('pending  customer response'),
      1,
    ],
    ['equals "": the empty cell', [{ column: 'Notes', equals: '' }], {}, 0],
    ['in: one of the list', [{ column: 'Ticket Status', in: ['Open', 'Pending'] }], status('Pending'), 0],
    ['in: none of the list', [{ column: 'Ticket Status', in: ['Open', 'Pending'] }], status('Closed'), 1],
    ['in: a prefix is not a member', [{ column: 'Ticket Status', in: ['Open'] }], status('Opened'), 1],
    ['in, ignoreCase', [{ column: 'Ticket Status', in: ['Open', 'Pending'], ignoreCase: true }], status(' pending'), 0],
    ['matches: unanchored, like grep', [{ column: 'Ticket Status', matches: 'Pend' }], status('Pending Customer'), 0],
    ['matches: anchored by the user', [{ column: 'Ticket Status', matches: '^Pend$' }], status('Pending'), 1],
    ['matches: case counts', [{ column: 'Ticket Status', matches: 'open' }], status('Open'), 1],
    [
      'matches, ignoreCase: flag i, the cell trimmed',
      [{ column: 'Ticket Status', matches: '^open$', ignoreCase: true }],
      status(' Open '),
      0,
    ],
    [
      'matches, ignoreCase: a letter whose lower case is longer (İ) is still found',
      [{ column: 'Notes', matches: '^İstanbul$', ignoreCase: true }],
      { Notes: 'İstanbul' },
      0,
    ],
    [
      'matches: ^ and $ are the whole cell, line breaks inside',
      [{ column: 'Notes', matches: '^b$' }],
      { Notes: 'a\nb\nc' },
      1,
    ],
    ['matches: . is a whole emoji (Unicode mode)', [{ column: 'Notes', matches: '^.$' }], { Notes: '🙂' }, 0],
    ['empty: true, an empty cell', [{ column: 'Notes', empty: true }], {}, 0],
    ['empty: true, a space is not empty', [{ column: 'Notes', empty: true }], { Notes: ' ' }, 1],
    [
      'empty: true, ignoreCase: a space is empty',
      [{ column: 'Notes', empty: true, ignoreCase: true }],
      { Notes: ' \t' },
      0,
    ],
    ['empty: false', [{ column: 'Notes', empty: false }], {}, 1],
    ['not', [{ not: { column: 'Ticket Status', equals: 'Closed' } }], status('Closed'), 1],
    ['not: anything else passes', [{ not: { column: 'Ticket Status', equals: 'Closed' } }], status('Open'), 0],
    [
      'anyOf: one holds',
      [
        {
          anyOf: [
            { column: 'Notes', empty: false },
            { column: 'Ticket Status', equals: 'Open' },
          ],
        },
      ],
      status('Open'),
      0,
    ],
    [
      'anyOf: none holds',
      [
        {
          anyOf: [
            { column: 'Notes', empty: false },
            { column: 'Ticket Status', equals: 'Open' },
          ],
        },
      ],
      status('Closed'),
      1,
    ],
    [
      'all must hold: the first that fails is named',
      [
        { column: 'Ticket Status', in: ['Open', 'Closed'] },
        { column: 'Notes', empty: false },
        { column: 'Ticket ID', matches: '^\\d+$' },
      ],
      { 'Ticket Status': 'Open', Notes: 'x', 'Ticket ID': 'T-1' },
      3,
    ],
    [
      'all must hold: the earliest failing one wins',
      [
        { column: 'Ticket Status', in: ['Open'] },
        { column: 'Notes', empty: false },
      ],
      status('Closed'),
      1,
    ],
    [
      'a header with spaces around it, named without them',
      [{ column: 'Channel', equals: 'Chat' }],
      { ' Channel ': 'Chat' },
      0,
    ],
    [
      'a header with spaces around it, named with them',
      [{ column: ' Channel ', equals: 'Chat' }],
      { ' Channel ': 'Chat' },
      0,
    ],
  ])('%s', (_name, where, cells, expected) => {
    expect(excludedBy(where, cells)).toBe(expected);
  });

  it('a record shorter than the header is tested as if its missing cells were empty', () => {
    const filter = compileFilter([{ column: 'Notes', empty: true }], HEADER);
    expect(filter.exclude(['1', 'Open'])).toBeUndefined();
  });

  it('describes each condition from the filter alone, numbered from 1', () => {
    const filter = compileFilter(
      [
        { column: 'Ticket Status', in: ['Open', 'Pending Customer Response'] },
        { not: { column: 'Ticket Status', equals: 'Closed', ignoreCase: true } },
        {
          anyOf: [
            { column: 'Notes', empty: true },
            { column: 'Ticket ID', matches: '^T-\\d+$', ignoreCase: true },
          ],
        },
      ],
      HEADER,
    );
    expect(filter.conditions).toEqual([
      'where[1]: "Ticket Status" in ["Open", "Pending Customer Response"]',
      'where[2]: not ("Ticket Status" equals "Closed" (ignoreCase))',
      'where[3]: ("Notes" is empty or "Ticket ID" matches /^T-\\d+$/i)',
    ]);
  });

  it('cuts a long description (a list of many values) without splitting a character', () => {
    const text = describeCondition({ column: 'Ticket ID', in: Array.from({ length: 200 }, (_, i) => `🙂${i}`) });
    expect([...text].length).toBe(300);
    expect(text.endsWith('…')).toBe(true);
    expect(text).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });
});

describe('compileFilter: refusals before any record is read', () => {
  it.each<[string, Condition[], string]>([
    [
      'a column the header lacks, with the nearest header',
      [{ column: 'Tiket Status', equals: 'Open' }],
      'where[1]: no column named "Tiket Status" in the input header (did you mean "Ticket Status"?) (columns: Ticket ID, Ticket Status, Notes,  Channel )',
    ],
    [
      'a column in another case: the nearest header says which',
      [{ column: 'ticket status', equals: 'Open' }],
      'did you mean "Ticket Status"?',
    ],
    [
      'no near header: the columns are listed',
      [{ column: 'Priority', equals: 'High' }],
      'no column named "Priority" in the input header (columns:',
    ],
    [
      'inside not and anyOf, the path says where',
      [
        { column: 'Notes', empty: false },
        {
          not: {
            anyOf: [
              { column: 'Notes', empty: true },
              { column: 'Nope', empty: true },
            ],
          },
        },
      ],
      'where[2].not.anyOf[2]: no column named "Nope"',
    ],
    [
      'an invalid pattern, named',
      [{ column: 'Notes', matches: '(open' }],
      'where[1].matches: /(open/ is not a valid regular expression: Unterminated group',
    ],
    [
      'an escape Unicode mode refuses, with the way out',
      [{ column: 'Notes', matches: '^T\\-\\d+$' }],
      'where[1].matches: /^T\\-\\d+$/ is not a valid regular expression: Invalid escape (patterns are read in ' +
        'Unicode mode: escape only what needs it, e.g. - not \\-,',
    ],
    [
      'a nested repetition',
      [{ column: 'Notes', matches: '^(a+)+$' }],
      'where[1].matches: /^(a+)+$/ repeats a part that itself repeats',
    ],
    [
      'an over-long pattern',
      [{ column: 'Notes', matches: 'x'.repeat(1001) }],
      'where[1].matches is 1001 characters long: at most 1000',
    ],
    [
      'two operators',
      [{ column: 'Notes', equals: 'a', in: ['b'] } as unknown as Condition],
      'where[1] has equals and in: a condition has exactly one of',
    ],
    ['no operator', [{ column: 'Notes' } as unknown as Condition], 'where[1] has no operator'],
    ['an operator without its column', [{ equals: 'a' } as unknown as Condition], 'where[1] needs "column"'],
    [
      'not with a column of its own (the other shape)',
      [{ column: 'Notes', not: { in: ['x'] } } as unknown as Condition],
      'where[1]: "not" holds whole conditions, each with its own column',
    ],
    ['an empty in list', [{ column: 'Notes', in: [] }], 'where[1].in must be a list of at least one string'],
    ['an empty anyOf', [{ anyOf: [] }], 'where[1].anyOf must be a list of at least one condition'],
    [
      'a value that is not text',
      [{ column: 'Notes', equals: 5 } as unknown as Condition],
      'where[1].equals must be a string',
    ],
    ['a condition that is not an object', ['Notes = x' as unknown as Condition], 'where[1] must be a condition object'],
  ])('%s', (_name, where, message) => {
    expect(() => compileFilter(where, HEADER)).toThrow(message);
  });

  it('a column the header holds twice: which cell to test cannot be guessed', () => {
    expect(() => compileFilter([{ column: 'Status', equals: 'Open' }], ['Status', 'Notes', 'Status'])).toThrow(
      'where[1]: the input header has 2 columns named "Status" (columns 1 and 3): the filter cannot tell which one to test',
    );
    // Another column's repeat is no concern of the filter.
    expect(
      compileFilter([{ column: 'Notes', equals: 'x' }], ['Status', 'Notes', 'Status']).exclude(['a', 'x', 'b']),
    ).toBe(undefined);
  });

  it('names the list and the header as the caller does (a results file, a flag)', () => {
    expect(() =>
      compileFilter([{ column: 'Result.Stat', equals: 'failed' }], ['Result.Status'], {
        name: '--where',
        header: 'the results header',
      }),
    ).toThrow('--where[1]: no column named "Result.Stat" in the results header (did you mean "Result.Status"?)');
  });
});

describe('nestedRepetition', () => {
  it.each([
    '(a+)+',
    '(a*)*',
    '^(\\w+\\s?)*$',
    '((ab)*c)+',
    '(?:a+){2,}',
    '(a+){2}',
    '(?<word>\\w+)+',
    '(x(?:y+))*',
    '(a{2,})+',
    '(.*)*',
  ])('refuses %s', (pattern) => {
    expect(nestedRepetition(pattern)).toBe(true);
  });

  it.each([
    '^Open$',
    '^(Open|Pending.*)$',
    '(ab)+',
    '(a+)?',
    '(a+){1}',
    '(a+)b+',
    '[(a+)]+',
    '\\(a+\\)+',
    '^\\d{4}-\\d{2}$',
    '(?=a+)b',
    '\\p{L}+',
    '(\\p{Lu}{1,3})?x+',
    '(?<y>\\d+)-\\k<y>',
    '(a|b)+',
    '.*a.*b',
  ])('accepts %s', (pattern) => {
    expect(nestedRepetition(pattern)).toBe(false);
  });
});
