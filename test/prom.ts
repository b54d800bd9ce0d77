/**
 * A metrics file read back by a parser that is not the library that wrote it
 * (parse-prometheus-text-format, a port of the Prometheus Python client's), made strict where it is
 * lenient: the file ends with a newline, every sample is a number, and every family a run writes is
 * there — a file cut short would miss the last ones.
 */
import parse from 'parse-prometheus-text-format';

/** Every family a run writes, in the order it writes them; latency only once an answer came. */
export const FAMILIES = [
  'run_info',
  'outcome',
  'rows',
  'rows_carried',
  'requests_total',
  'throttles_total',
  'retries_total',
  'server_errors_total',
  'unknown_outcomes_total',
  'capacity_pauses_total',
  'paused',
  'created_per_second',
  'target_requests_per_second',
  'ceiling_requests_per_second',
  'start_timestamp_seconds',
  'last_update_timestamp_seconds',
  'last_success_timestamp_seconds',
].map((n) => `connect_task_loader_${n}`);

export interface Metrics {
  /** The value of the one sample of `name` (prefix left out) whose labels include `labels`. */
  value(name: string, labels?: Record<string, string>): number;
  /** Every sample of `name`, by the value of `label`. */
  by(name: string, label: string): Record<string, number>;
  labels(name: string): Record<string, string>;
  names: string[];
}

export function readMetrics(text: string): Metrics {
  if (!text.endsWith('\n')) throw new Error(`a metrics file ends with a newline: ${JSON.stringify(text.slice(-40))}`);
  const families = new Map(parse(text).map((f) => [f.name, f]));
  for (const name of FAMILIES) if (!families.has(name)) throw new Error(`no ${name} in:\n${text}`);
  for (const f of families.values()) {
    if (f.type !== 'GAUGE' && f.type !== 'COUNTER') throw new Error(`${f.name} is ${f.type}`);
    for (const m of f.metrics)
      if (m.value.trim() === '' || !Number.isFinite(Number(m.value)))
        throw new Error(`${f.name} has the value ${JSON.stringify(m.value)}`);
  }
  const samples = (name: string) => {
    const f = families.get(`connect_task_loader_${name}`);
    if (!f) throw new Error(`no connect_task_loader_${name}`);
    return f.metrics;
  };
  const matching = (name: string, labels: Record<string, string>) =>
    samples(name).filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return {
    value(name, labels = {}) {
      const found = matching(name, labels);
      if (found.length !== 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
      return Number(found[0]!.value);
    },
    by(name, label) {
      return Object.fromEntries(samples(name).map((m) => [m.labels?.[label] ?? '', Number(m.value)]));
    },
    labels(name) {
      return samples(name)[0]?.labels ?? {};
    },
    names: [...families.keys()],
  };
}
