// prom_text.mjs -- a strict parser of Prometheus' text exposition format
// (version 0.0.4), for asserting on what /metrics serves.
//
//   const families = parsePrometheusText(text);   throws on the first violation
//   families.get('cdcw_rows_written_total') -> { type, help, samples: [{ name, labels, value }] }
//   sum(families, 'cdcw_rows_written_total', { topic: 'x' })
//
// Rules checked (from the format's specification): every line is a comment,
// blank, or a sample; metric and label names match their grammars; label
// values are quoted with only \\, \" and \n escapes; values are Go floats
// (NaN, +Inf, -Inf allowed); # TYPE comes at most once per family, before its
// samples, with a known type; a family's samples are contiguous; no sample
// (name and label set) appears twice; counters are non-negative; histograms
// have le buckets, cumulative and non-decreasing, ending with +Inf equal to
// _count, and a _sum; the text ends with a newline.
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(text, where) {
  if (text === 'NaN') return NaN;
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new Error(`${where}: bad value '${text}'`);
  return Number(text);
}

// Labels from just after '{'; returns [labels, index after '}'].
function parseLabels(line, i, where) {
  const labels = {};
  for (;;) {
    if (line[i] === '}') return [labels, i + 1];
    const eq = line.indexOf('=', i);
    if (eq < 0) throw new Error(`${where}: label without '='`);
    const name = line.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`${where}: bad label name '${name}'`);
    if (name in labels) throw new Error(`${where}: label '${name}' twice`);
    if (line[eq + 1] !== '"') throw new Error(`${where}: label value of '${name}' not quoted`);
    let value = '';
    let j = eq + 2;
    for (;; j++) {
      if (j >= line.length) throw new Error(`${where}: unterminated label value`);
      const c = line[j];
      if (c === '"') break;
      if (c === '\\') {
        const n = line[++j];
        if (n === '\\') value += '\\';
        else if (n === '"') value += '"';
        else if (n === 'n') value += '\n';
        else throw new Error(`${where}: bad escape '\\${n}' in a label value`);
      } else {
        value += c;
      }
    }
    labels[name] = value;
    i = j + 1;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') throw new Error(`${where}: expected ',' or '}' after a label`);
  }
}

// The family a sample name belongs to, given the declared types.
function familyOf(name, families) {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      const f = families.get(base);
      if (f && (f.type === 'histogram' || f.type === 'summary')) return base;
    }
  }
  return name;
}

export function parsePrometheusText(text) {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the text does not end with a newline');
  const families = new Map();
  const seen = new Set();
  const closed = new Set();
  let current = null;
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, n) => {
    const where = `line ${n + 1}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!m) return; // other comments are allowed
      const [, kind, name, rest = ''] = m;
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name '${name}'`);
      const f = families.get(name) ?? { help: undefined, type: undefined, samples: [] };
      if (kind === 'TYPE') {
        if (f.type !== undefined) throw new Error(`${where}: second TYPE for ${name}`);
        if (f.samples.length) throw new Error(`${where}: TYPE for ${name} after its samples`);
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type '${rest}'`);
        f.type = rest;
      } else {
        if (f.help !== undefined) throw new Error(`${where}: second HELP for ${name}`);
        if (/\\[^\\n]/.test(rest.replaceAll('\\\\', ''))) throw new Error(`${where}: bad escape in HELP`);
        f.help = rest.replaceAll('\\n', '\n').replaceAll('\\\\', '\\');
      }
      families.set(name, f);
      return;
    }
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) throw new Error(`${where}: not a sample: '${line}'`);
    const name = line.slice(0, nameEnd);
    if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name '${name}'`);
    let labels = {};
    let i = nameEnd;
    if (line[i] === '{') [labels, i] = parseLabels(line, i + 1, where);
    if (line[i] !== ' ') throw new Error(`${where}: expected a space before the value`);
    const parts = line.slice(i + 1).split(' ');
    if (parts.length > 2 || parts[0] === '') throw new Error(`${where}: expected a value and an optional timestamp`);
    const value = parseValue(parts[0], where);
    if (parts.length === 2 && !/^-?\d+$/.test(parts[1])) throw new Error(`${where}: bad timestamp '${parts[1]}'`);
    const family = familyOf(name, families);
    if (current !== family) {
      if (closed.has(family)) throw new Error(`${where}: samples of ${family} are not contiguous`);
      if (current !== null) closed.add(current);
      current = family;
    }
    const id = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(id)) throw new Error(`${where}: sample ${id} twice`);
    seen.add(id);
    const f = families.get(family) ?? { help: undefined, type: 'untyped', samples: [] };
    if (f.type === undefined) f.type = 'untyped';
    if (f.type === 'counter' && !(value >= 0)) throw new Error(`${where}: counter ${name} is ${value}`);
    if (f.type === 'histogram' && name.endsWith('_bucket') && !('le' in labels)) throw new Error(`${where}: bucket without le`);
    f.samples.push({ name, labels, value });
    families.set(family, f);
  });
  for (const [name, f] of families) if (f.type === 'histogram') checkHistogram(name, f);
  return families;
}

function checkHistogram(name, f) {
  const series = new Map();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const h = series.get(key) ?? { buckets: [], sum: undefined, count: undefined };
    if (s.name === `${name}_bucket`) h.buckets.push([parseValue(le, `${name} le`), s.value]);
    else if (s.name === `${name}_sum`) h.sum = s.value;
    else if (s.name === `${name}_count`) h.count = s.value;
    else throw new Error(`${name}: unexpected sample ${s.name}`);
    series.set(key, h);
  }
  for (const [key, h] of series) {
    if (h.sum === undefined || h.count === undefined) throw new Error(`${name}${key}: _sum or _count missing`);
    const last = h.buckets[h.buckets.length - 1];
    if (!last || last[0] !== Infinity) throw new Error(`${name}${key}: no le="+Inf" bucket at the end`);
    if (last[1] !== h.count) throw new Error(`${name}${key}: +Inf bucket ${last[1]} != _count ${h.count}`);
    for (let k = 1; k < h.buckets.length; k++) {
      if (!(h.buckets[k][0] > h.buckets[k - 1][0])) throw new Error(`${name}${key}: le not increasing`);
      if (h.buckets[k][1] < h.buckets[k - 1][1]) throw new Error(`${name}${key}: buckets not cumulative`);
    }
  }
}

// The sum of a family's plain samples (a histogram's: its _count) whose labels include `match`.
export function sum(families, name, match = {}) {
  const f = families.get(name);
  if (!f) return 0;
  const want = f.type === 'histogram' ? `${name}_count` : name;
  return f.samples
    .filter((s) => s.name === want && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}
