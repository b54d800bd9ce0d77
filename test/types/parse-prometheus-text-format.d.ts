/** The package ships no types: the shape its README documents, for the families this project writes. */
declare module 'parse-prometheus-text-format' {
  interface Sample {
    value: string;
    labels?: Record<string, string>;
  }
  interface Family {
    name: string;
    help: string;
    type: 'GAUGE' | 'COUNTER' | 'UNTYPED' | 'HISTOGRAM' | 'SUMMARY';
    metrics: Sample[];
  }
  export default function parsePrometheusTextFormat(text: string): Family[];
}
