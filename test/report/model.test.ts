/**
 * The report's grouping, without the bin: rules of an invalid row's message (the same function as
 * `validate`'s problems by rule), the bounded group counter, and the "other" line in text, JSON and HTML.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeViolations } from '../../src/input/validate.js';
import { GroupCounter, KEY_CHARS, SHOWN, TRACKED } from '../../src/report/groups.js';
import { renderHtml } from '../../src/report/html.js';
import { buildReport } from '../../src/report/model.js';
import { ruleKey, rulesOf } from '../../src/report/rule-text.js';
import { formatReport, reportJson } from '../../src/report/text.js';
import { tempDir } from '../helpers.js';

const CHAIN = 'column "PreviousContactId": at most 12 tasks may share one PreviousContactId in a file';

describe('rulesOf: the rules of an invalid row, without its own figures', () => {
  it.each<[string, string | undefined, string[]]>([
    ['no message', undefined, ['(no message)']],
    ['empty message', '', ['(no message)']],
    ['one rule', 'column "Name": is required', ['column "Name": is required']],
    [
      '(found …) at the end',
      'column "Name": must be at most 1024 characters (found 1500)',
      ['column "Name": must be at most 1024 characters'],
    ],
    [
      'the chain rule: "; " inside the parentheses',
      `${CHAIN} (line 1003 would be number 13; the first is line 1002)`,
      [CHAIN],
    ],
    ['the chain rule, other lines', `${CHAIN} (line 20017 would be number 20016; the first is line 2)`, [CHAIN]],
    [
      'several rules, one with "; " inside parentheses',
      `column "Name": is required; ${CHAIN} (line 15 would be number 13; the first is line 2); column ` +
        `"Description": must be at most 4096 characters (found 5000)`,
      ['column "Name": is required', CHAIN, 'column "Description": must be at most 4096 characters'],
    ],
    [
      'the member after a column is dropped, as validate does',
      'column "Subject" (Name): must be at most 1024 characters (found 2000)',
      ['column "Subject": must be at most 1024 characters'],
    ],
    [
      'parentheses inside the rule text',
      'ContactFlowId: exactly one of ContactFlowId, QuickConnectId, TaskTemplateId is required (found none)',
      ['ContactFlowId: exactly one of ContactFlowId, QuickConnectId, TaskTemplateId is required'],
    ],
    [
      'nested parentheses',
      'column "T": is not valid (found x (y; z) w); column "U": is required',
      ['column "T": is not valid', 'column "U": is required'],
    ],
    [
      'detail in the middle',
      'column "S": time (checked when the row was about to be sent) is past',
      ['column "S": time is past'],
    ],
    [
      'an unmatched "(" stays text',
      'column "Phone (mobile" (Attributes.phone): is required; column "Name": is required',
      ['column "Phone (mobile": is required', 'column "Name": is required'],
    ],
    [
      'an unmatched ")" stays text',
      'column "a)b": is required (found none); column "Name": is required',
      ['column "a)b": is required', 'column "Name": is required'],
    ],
    [
      'parentheses and "; " inside a column\'s name are its name',
      'column "Subject (2)" (Name): is required; column "a; b (c)": is required (found none)',
      ['column "Subject (2)": is required', 'column "a; b (c)": is required'],
    ],
    [
      'a reason of an unreadable record',
      'the record repeats the header row (files joined together?)',
      ['the record repeats the header row'],
    ],
  ])('%s', (_, message, rules) => {
    expect(rulesOf(message)).toEqual(rules);
  });

  it('agrees with validate: ruleKey of each violation is what rulesOf finds in the joined message', () => {
    const violations = [
      { member: 'Name', column: 'Subject', rule: 'must be at most 1024 characters (found 1100)' },
      {
        member: 'PreviousContactId',
        column: 'PreviousContactId',
        rule:
          'at most 12 tasks may share one PreviousContactId in a file (line 9 would be number 13; the first ' +
          'is line 2)',
      },
      { member: 'InstanceId', rule: 'is required' },
    ];
    expect(rulesOf(describeViolations(violations))).toEqual(violations.map((v) => ruleKey(describeViolations([v]))));
  });

  it('matches the regular expression validate used, for parentheses that do not nest', () => {
    for (const text of [
      'a (x) b',
      'a(x)b',
      'column "N" (Name): must be at most 1 characters (found 2)',
      'no parentheses',
    ]) {
      expect(ruleKey(text)).toBe(text.replace(/\s*\([^)]*\)/g, '').trim());
    }
  });
});

describe('GroupCounter: bounded whatever the file holds', () => {
  it('lists the SHOWN largest, largest first, and sums the rest in one "other" with a few lines', () => {
    const c = new GroupCounter();
    let line = 2;
    for (let g = 0; g < SHOWN + 20; g++)
      for (let n = 0; n <= g; n++) c.add(`rule ${String(g).padStart(3, '0')}`, line++);
    const { groups, other } = c.result();
    expect(groups).toHaveLength(SHOWN);
    expect(groups[0]).toMatchObject({
      key: `rule ${String(SHOWN + 19).padStart(3, '0')}`,
      count: SHOWN + 20,
      lines: expect.any(Array),
    });
    expect(groups.every((g) => g.lines.length <= 5)).toBe(true);
    // The 20 smallest (counts 1..20) are not listed.
    expect(other).toEqual({ count: (20 * 21) / 2, lines: [2, 3, 4, 5, 6] });
  });

  it(`counts at most ${TRACKED} distinct groups: rows of later ones go straight to "other"`, () => {
    const c = new GroupCounter();
    for (let i = 0; i < 100_000; i++) c.add(`code ${i}`, i + 2, () => 'message');
    const { groups, other } = c.result();
    expect(groups).toHaveLength(SHOWN);
    expect(other!.count).toBe(100_000 - SHOWN);
    expect(other!.lines).toHaveLength(5);
    expect(groups[0]!.message).toBe('message');
  });

  it('asks for the message once per group, and cuts long keys and messages', () => {
    const c = new GroupCounter();
    let asked = 0;
    for (let i = 0; i < 1000; i++)
      c.add('x'.repeat(KEY_CHARS * 3), i, () => {
        asked++;
        return 'm'.repeat(1000);
      });
    const [g] = c.result().groups;
    expect(asked).toBe(1);
    expect(g!.key).toHaveLength(KEY_CHARS + 1);
    expect(g!.message).toHaveLength(300);
    expect(g!.count).toBe(1000);
  });

  it('has no "other" when every group is listed', () => {
    const c = new GroupCounter();
    c.add('a', 2);
    expect(c.result()).toEqual({ groups: [{ key: 'a', count: 1, lines: [2] }] });
  });
});

const HEADER =
  'Name,Result.Line,Result.Status,Result.ContactId,Result.ClientToken,Result.Attempts,Result.ErrorCode,' +
  'Result.ErrorMessage\n';
const cell = (s: string) => `"${s.replace(/"/g, '""')}"`;

describe('a report of many groups', () => {
  it('text, JSON and HTML list the 50 largest and one "other" line; every value escaped; no row content', async () => {
    const file = join(tempDir(), 'many.results.csv');
    let body = HEADER;
    let line = 2;
    for (let r = 0; r < 3000; r++) {
      // 120 distinct rules and 120 distinct codes, the service echoing a value it refused.
      body += `SECRETNAME${r},${line++},invalid,,,0,InvalidRow,${cell(`column "<c${r % 120}>": is required`)}\n`;
      body +=
        `SECRETNAME${r},${line++},failed,,t${r},` +
        `1,${cell(`Code<${r % 120}>`)},` +
        `${cell(`Value 'SECRETVALUE${r}' at 'name' failed to satisfy constraint: <b>`)}\n`;
    }
    writeFileSync(file, body);
    const report = await buildReport(file);
    expect(report.invalid).toHaveLength(SHOWN);
    expect(report.failures).toHaveLength(SHOWN);
    expect(report.invalidOther?.count).toBe(3000 - 25 * SHOWN);
    expect(report.failuresOther?.count).toBe(3000 - 25 * SHOWN);
    const text = formatReport(report);
    expect(text).toMatch(
      / {4}1,750 {2}other rules \(only the 50 largest are listed\) {2}\(lines \d+, \d+, \d+, \d+, \d+, …\)/,
    );
    expect(text).toMatch(/1,750 {2}other codes \(only the 50 largest are listed\)/);
    const json = reportJson([report], report.exitCode);
    expect(JSON.parse(json).reports[0].invalidOther).toMatchObject({ count: 1750 });
    const html = renderHtml([report]);
    expect(html).toContain(
      '<td class="muted">other rules (only the 50 largest are listed)</td><td class="n">1,750</td>',
    );
    expect(html).toContain('column &quot;&lt;c0&gt;&quot;: is required');
    expect(html).toContain('Code&lt;0&gt;');
    expect(html).not.toMatch(/<c\d+>|Code<|constraint: <b>/);
    expect(html).toContain('constraint: &lt;b&gt;');
    for (const out of [text, json, html]) expect(out).not.toMatch(/SECRET/);
  });
});
