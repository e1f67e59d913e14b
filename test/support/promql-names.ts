/**
 * The metric names a PromQL expression reads, and the metric names a Prometheus text scrape
 * holds: enough to check that alert rules and dashboard panels use only names a tracker exports
 * (test/contrib/observability.test.ts). A small tokenizer, not a PromQL parser: it reads what the
 * contrib/ files write (selectors, functions, aggregations with by/without, binary operators with
 * on/ignoring/group_*, offsets, Grafana's $variables) and drops everything that is not a name.
 */

/** Words that are PromQL syntax, never metric names, wherever they stand. */
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);
/** Keywords followed by a parenthesised list of label names (not metric names). */
const LABEL_LISTS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
/** Aggregation operators: `sum by (x) (...)` puts a label list between the operator and its `(`. */
const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio']);

type Token = { kind: 'ident' | 'punct'; text: string };

function tokenize(expr: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = expr.length;
  while (i < n) {
    const c = expr[i]!;
    if (/\s/.test(c)) { i++; continue; }
    if (c === '#') { // a comment runs to the end of the line
      while (i < n && expr[i] !== '\n') i++;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') { // a string: label values, regexes
      i++;
      while (i < n && expr[i] !== c) i += expr[i] === '\\' && c !== '`' ? 2 : 1;
      i++;
      continue;
    }
    if (c === '$') { // a Grafana variable: $name, ${name}, ${name:fmt}
      i++;
      if (expr[i] === '{') while (i < n && expr[i] !== '}') i++;
      else while (i < n && /\w/.test(expr[i]!)) i++;
      if (expr[i] === '}') i++;
      continue;
    }
    if (/[0-9.]/.test(c)) { // numbers and durations: 0.99, 1e9, 5m, 1h30m, 0x1f
      i++;
      while (i < n && (/[0-9a-zA-Z_.]/.test(expr[i]!) || (/[+-]/.test(expr[i]!) && /[0-9.][eE]$/.test(expr.slice(i - 2, i))))) i++;
      continue;
    }
    if (/[a-zA-Z_:]/.test(c)) {
      const start = i;
      while (i < n && /[a-zA-Z0-9_:]/.test(expr[i]!)) i++;
      out.push({ kind: 'ident', text: expr.slice(start, i) });
      continue;
    }
    out.push({ kind: 'punct', text: c });
    i++;
  }
  return out;
}

/** Index just past the bracketed group that opens at `tokens[i]` (`open`), or tokens.length. */
function skipGroup(tokens: Token[], i: number, open: string, close: string): number {
  let depth = 0;
  for (; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== 'punct') continue;
    if (t.text === open) depth++;
    else if (t.text === close && --depth === 0) return i + 1;
  }
  return tokens.length;
}

/** The metric names `expr` reads, sorted, each once. */
export function metricNames(expr: string): string[] {
  const tokens = tokenize(expr);
  const names = new Set<string>();
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'punct') {
      // Label matchers and ranges/subqueries hold label names and durations, never metric names.
      if (t.text === '{') i = skipGroup(tokens, i, '{', '}') - 1;
      else if (t.text === '[') i = skipGroup(tokens, i, '[', ']') - 1;
      continue;
    }
    const next = tokens[i + 1];
    if (LABEL_LISTS.has(t.text)) {
      if (next?.text === '(') i = skipGroup(tokens, i + 1, '(', ')') - 1;
      continue;
    }
    if (KEYWORDS.has(t.text)) continue;
    if (next?.text === '(') continue; // a function or an aggregation
    if (AGGREGATIONS.has(t.text) && (next?.text === 'by' || next?.text === 'without')) continue;
    names.add(t.text);
  }
  return [...names].sort();
}

/**
 * The names a Prometheus text scrape exports: every sample's name, and for each `# TYPE` line the
 * family's series names (a histogram's _bucket, _sum and _count; a summary's _sum and _count), so
 * a labelled metric that has no series yet (no refusal so far) still counts as exported.
 */
export function scrapedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type !== null) {
      const [, name, kind] = type;
      if (kind === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
      else if (kind === 'summary') for (const s of ['', '_sum', '_count']) names.add(name + s);
      else names.add(name!);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (sample !== null) names.add(sample[1]!);
  }
  return names;
}

/** Every PromQL expression of a Grafana dashboard: panel targets (also in rows) and query variables. */
export function dashboardExpressions(dashboard: unknown): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  const d = dashboard as {
    panels?: { title?: string; targets?: { expr?: string }[]; panels?: unknown[] }[];
    templating?: { list?: { name: string; type: string; query?: string | { query?: string } }[] };
  };
  const walk = (panels: typeof d.panels) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) if (typeof t.expr === 'string') out.push({ where: `panel "${p.title ?? '?'}"`, expr: t.expr });
      walk(p.panels as typeof d.panels);
    }
  };
  walk(d.panels);
  for (const v of d.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : v.query?.query ?? '';
    // label_values(metric{...}, label): the metric is what must exist.
    const m = /^label_values\((.*),\s*\w+\)$/.exec(q.trim());
    out.push({ where: `variable $${v.name}`, expr: m !== null ? m[1]! : q });
  }
  return out;
}
