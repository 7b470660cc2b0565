// pg_values.mjs -- PostgreSQL's own text output of a value, turned by the
// test's own code (never cdc-writer's) into the canonical form that
// lake_values.py gives for what a reader read from the lake, so that the two
// can be compared value by value:
//
//   canonicalFromPg(pgType, text, mode) -> null | string | [..] | { json } | { float } | { point }
//   sameValue(expected, lakeValue)      -> true when they are the same value
//
// pgType is the column's type as the test declares it ('int4', 'numeric',
// 'timestamptz', 'int4[]'...); mode is the connector mode whose encoding
// Debezium used (default, noschema, unwrap, connect, decstring, decdouble).
// Canonical forms: integers and decimals as normalized decimal text; floating
// point as { float: Number }; timestamps as microseconds since 1970, dates as
// days, times as microseconds since midnight (text), 'infinity' and
// '-infinity'; binary as hex; JSON as { json: parsed } (compared structurally).

const MICROS_PER_DAY = 86400000000n;

// Days from 1970-01-01 to a proleptic Gregorian date (year 0 = 1 BC).
function daysFromCivil(y, m, d) {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

// "HH:MM:SS[.ffffff]" -> microseconds (BigInt); an interval's hours may pass 99.
function clockMicros(text) {
  const m = /^(\d+):(\d\d):(\d\d)(?:\.(\d{1,6}))?/.exec(text);
  if (!m) throw new Error(`not a time: ${text}`);
  const frac = BigInt((m[4] ?? '').padEnd(6, '0'));
  return ((BigInt(m[1]) * 60n + BigInt(m[2])) * 60n + BigInt(m[3])) * 1000000n + frac;
}

// PostgreSQL's date output (DateStyle ISO): "YYYY-MM-DD[ BC]".
export function pgDateDays(text) {
  if (text === 'infinity' || text === '-infinity') return text;
  const m = /^(\d+)-(\d\d)-(\d\d)( BC)?$/.exec(text);
  if (!m) throw new Error(`not a date: ${text}`);
  const year = m[4] ? 1 - Number(m[1]) : Number(m[1]);
  return String(daysFromCivil(year, Number(m[2]), Number(m[3])));
}

// timestamp / timestamptz output: "YYYY-MM-DD HH:MM:SS[.f][+hh[:mm]]" -> µs since 1970 UTC.
export function pgTimestampMicros(text) {
  if (text === 'infinity' || text === '-infinity') return text;
  const m = /^(\d+)-(\d\d)-(\d\d)[ T](\d\d:\d\d:\d\d(?:\.\d+)?)(?:([+-])(\d\d)(?::?(\d\d))?|Z)?( BC)?$/.exec(text);
  if (!m) throw new Error(`not a timestamp: ${text}`);
  const year = m[8] ? 1 - Number(m[1]) : Number(m[1]);
  let micros = BigInt(daysFromCivil(year, Number(m[2]), Number(m[3]))) * MICROS_PER_DAY + clockMicros(m[4]);
  if (m[5]) {
    const offset = (BigInt(m[6]) * 60n + BigInt(m[7] ?? '0')) * 60000000n;
    micros += m[5] === '+' ? -offset : offset;
  }
  return String(micros);
}

// timetz output "HH:MM:SS[.f]+hh[:mm]" -> µs since midnight UTC.
function pgTimetzMicros(text) {
  const m = /^(\d\d:\d\d:\d\d(?:\.\d+)?)([+-])(\d\d)(?::(\d\d))?$/.exec(text);
  if (!m) throw new Error(`not a timetz: ${text}`);
  const offset = (BigInt(m[3]) * 60n + BigInt(m[4] ?? '0')) * 60000000n;
  let v = clockMicros(m[1]) + (m[2] === '+' ? -offset : offset);
  v = ((v % MICROS_PER_DAY) + MICROS_PER_DAY) % MICROS_PER_DAY;
  return String(v);
}

// interval output (IntervalStyle postgres), e.g. "1 year 2 mons 3 days 04:05:06.789012",
// "-1 days -00:00:01" -> { months, days, micros } (BigInt).
export function pgInterval(text) {
  let months = 0n, days = 0n, micros = 0n;
  for (const part of text.match(/[+-]?\d+ \w+|[+-]?\d+:\d\d:\d\d(?:\.\d+)?/g) ?? []) {
    const unit = /^([+-]?\d+) (\w+)$/.exec(part);
    if (unit) {
      const n = BigInt(unit[1]);
      if (unit[2].startsWith('year')) months += 12n * n;
      else if (unit[2].startsWith('mon')) months += n;
      else if (unit[2].startsWith('day')) days += n;
      else throw new Error(`interval unit ${unit[2]} in ${text}`);
    } else {
      const neg = part.startsWith('-');
      const v = clockMicros(part.replace(/^[+-]/, ''));
      micros += neg ? -v : v;
    }
  }
  return { months, days, micros };
}

// Debezium's MicroDuration (interval.handling.mode=numeric): a month is
// 365.25 / 12 = 30.4375 days; computed in doubles and saturated to a Java long.
export function debeziumIntervalMicros({ months, days, micros }) {
  const exact = months * 2629800000000n + days * MICROS_PER_DAY + micros; // 30.4375 days = 2629800 s
  const max = 2n ** 63n - 1n;
  if (exact > max) return String(max);
  if (exact < -max - 1n) return String(-max - 1n);
  return String(exact);
}

// Normalized decimal text: no '+', no leading zeros, no trailing fraction
// zeros, "-0" as "0".
export function normDecimal(text) {
  let t = String(text).trim();
  if (/^[+-]?(NaN|Infinity)$/i.test(t)) return t.replace(/^\+/, '');
  let neg = false;
  if (t[0] === '-' || t[0] === '+') { neg = t[0] === '-'; t = t.slice(1); }
  if (/e/i.test(t)) {
    const [mant, exp] = t.toLowerCase().split('e');
    const [i, f = ''] = mant.split('.');
    let digits = i + f;
    let point = i.length + Number(exp);
    if (point <= 0) { digits = '0'.repeat(1 - point) + digits; point = 1; }
    if (point > digits.length) digits = digits.padEnd(point, '0');
    t = `${digits.slice(0, point)}.${digits.slice(point)}`;
  }
  let [int, frac = ''] = t.split('.');
  int = int.replace(/^0+(?=\d)/, '') || '0';
  frac = frac.replace(/0+$/, '');
  const out = frac ? `${int}.${frac}` : int;
  return neg && out !== '0' ? `-${out}` : out;
}

// PostgreSQL's array output: '{1,NULL,"a,b","q\"uote"}' -> [text | null].
export function pgArray(text) {
  if (!text.startsWith('{') || !text.endsWith('}')) throw new Error(`not an array: ${text}`);
  const out = [];
  let i = 1;
  const body = text.length - 1;
  while (i < body) {
    if (text[i] === '"') {
      let v = '';
      i++;
      while (text[i] !== '"') {
        if (text[i] === '\\') i++;
        v += text[i++];
      }
      i++;
      out.push(v);
    } else {
      let j = i;
      while (j < body && text[j] !== ',') j++;
      const v = text.slice(i, j);
      out.push(v === 'NULL' ? null : v);
      i = j;
    }
    if (text[i] === ',') i++;
  }
  return out;
}

// hstore output: '"a"=>"1", "b c"=>NULL' -> { a: '1', 'b c': null }.
export function pgHstore(text) {
  const out = {};
  const re = /"((?:[^"\\]|\\.)*)"=>(NULL|"((?:[^"\\]|\\.)*)")/g;
  let m;
  while ((m = re.exec(text)) !== null) {
    const unq = (s) => s.replace(/\\(.)/g, '$1');
    out[unq(m[1])] = m[2] === 'NULL' ? null : unq(m[3]);
  }
  return out;
}

const floatOf = (text) => ({ float: text === 'NaN' ? NaN : text === 'Infinity' ? Infinity : text === '-Infinity' ? -Infinity : Number(text) });
const moneyText = (text) => text.replace(/[$,]/g, '');

// One scalar value of pgType, as the lake holds it in this mode.
function scalar(pgType, text, mode) {
  const base = pgType.replace(/\(.*\)$/, '');
  switch (base) {
    case 'int2': case 'int4': case 'int8':
      return text;
    case 'float4': return { float: Math.fround(floatOf(text).float) };
    case 'float8': return floatOf(text);
    case 'numeric': case 'money': {
      const dec = base === 'money' ? moneyText(text) : text;
      if (mode === 'decdouble') return floatOf(dec);
      // Debezium writes NaN as null (precise) or as the text NAN (string).
      if (dec === 'NaN') return mode === 'decstring' ? 'NAN' : null;
      return normDecimal(dec);
    }
    case 'bool': return text === 't' ? 'true' : 'false';
    case 'uuid': return mode === 'noschema' ? text : text.replaceAll('-', '');
    case 'json': case 'jsonb': return { json: JSON.parse(text) };
    case 'hstore': return { json: pgHstore(text) };
    case 'point': {
      const m = /^\(([^,]+),([^)]+)\)$/.exec(text);
      return { point: [Number(m[1]), Number(m[2])] };
    }
    case 'date': return pgDateDays(text);
    case 'time': {
      const v = clockMicros(text);
      return String(mode === 'connect' ? (v / 1000n) * 1000n : v);
    }
    case 'timetz': return pgTimetzMicros(text);
    case 'timestamp': case 'timestamptz': {
      const v = pgTimestampMicros(text);
      if (v.endsWith('infinity')) return v;
      const precise = base === 'timestamptz' || (mode !== 'connect' && pgType !== 'timestamp(3)');
      const b = BigInt(v);
      return String(precise ? b : (b >= 0n ? b / 1000n : -((-b + 999n) / 1000n)) * 1000n);
    }
    case 'interval': return debeziumIntervalMicros(pgInterval(text));
    case 'bytea': return text.replace(/^\\x/, '');
    case 'bit1': return text === '1' ? 'true' : 'false';
    case 'bit': return text;
    case 'varbit': return text === '' ? '' : text.replace(/^0+/, '') || '0';
    default: return text; // text, varchar, char, citext, xml, enums, inet, cidr, macaddr, ranges
  }
}

export function canonicalFromPg(pgType, text, mode = 'default') {
  if (text === null || text === undefined) return null;
  if (pgType.endsWith('[]')) {
    const elem = pgType.slice(0, -2);
    return pgArray(text).map((e) => (e === null ? null : scalar(elem, e, mode)));
  }
  return scalar(pgType, text, mode);
}

// Whether a canonical expected value equals a value lake_values.py gave.
export function sameValue(expected, got) {
  if (expected === null) return got === null;
  if (got === null || got === undefined) return false;
  if (Array.isArray(expected)) {
    let list = got;
    if (typeof got === 'string') { try { list = JSON.parse(got); } catch { return false; } }
    return Array.isArray(list) && list.length === expected.length &&
      expected.every((e, i) => sameValue(e, list[i] === null ? null : typeof list[i] === 'string' ? list[i] : String(list[i])));
  }
  if (typeof expected === 'object' && 'float' in expected) {
    const g = Number(got === 'NaN' ? NaN : got);
    return Object.is(g, expected.float) || (Number.isNaN(g) && Number.isNaN(expected.float));
  }
  if (typeof expected === 'object' && 'json' in expected) {
    try { return isDeepEqual(JSON.parse(got), expected.json); } catch { return false; }
  }
  if (typeof expected === 'object' && 'point' in expected) {
    try {
      const p = JSON.parse(got);
      return p.x === expected.point[0] && p.y === expected.point[1];
    } catch { return false; }
  }
  if (got === expected) return true;
  // Decimals: the same number, whatever the scale a file gave it.
  return /^-?\d+(\.\d+)?$/.test(expected) && /^-?\d+(\.\d+)?(E[+-]?\d+)?$/i.test(got) &&
    (/[.eE]/.test(got) || expected.includes('.')) && normDecimal(got) === normDecimal(expected);
}

function isDeepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && isDeepEqual(a[k], b[k]));
}

// Without a schema (value.converter.schemas.enable=false) the lake holds what
// Debezium's JSON holds, typed by cdc-writer's inference: the value Debezium
// writes for PostgreSQL's text, as { number }, { string }, { json }, { boolean },
// or { clock: µs } for an ISO time or timestamp text.
const b64 = (bytes) => Buffer.from(bytes).toString('base64');

// Java's BigInteger.toByteArray(): the shortest big-endian two's complement.
function twosComplement(v) {
  let n = 1;
  while (v < -(1n << BigInt(8 * n - 1)) || v >= 1n << BigInt(8 * n - 1)) n++;
  const u = v < 0n ? (1n << BigInt(8 * n)) + v : v;
  return Buffer.from(u.toString(16).padStart(2 * n, '0'), 'hex');
}

function unscaledOf(text, scale) {
  const t = normDecimal(text);
  const neg = t.startsWith('-');
  const [i, f = ''] = t.replace('-', '').split('.');
  const v = BigInt(i + f.padEnd(scale, '0'));
  return { unscaled: neg ? -v : v, scale };
}


function bitsLittleEndian(text) {
  if (text === '' || /^0*$/.test(text)) return text === '' ? b64([]) : b64([0]);
  let v = BigInt(`0b${text}`);
  const out = [];
  while (v > 0n) { out.push(Number(v & 0xffn)); v >>= 8n; }
  return b64(out);
}

// Debezium's numbers for 'infinity' and '-infinity' (see the README): a
// date's differ between the snapshot and streaming.
const INFINITY_MARKS = { date: [['-622191234', '-2147472692'], ['-625821272', '-2147472691']], 'timestamp(3)': ['9223372036825200', '-9223372036832400'],
  timestamp: ['9223372036825200000', '-9223372036832400000'] };

function schemalessScalar(pgType, text) {
  const base = pgType.replace(/\(.*\)$/, '');
  switch (base) {
    case 'int2': case 'int4': case 'int8': return { number: text };
    case 'float4': case 'float8':
      // Java prints a float with other digits than PostgreSQL: the same float.
      return /^-?(NaN|Infinity)$/.test(text) ? { string: text } : { number: text, float4: base === 'float4' };
    case 'numeric': {
      if (text === 'NaN') return null;
      // PostgreSQL prints a numeric(p,s) with s fraction digits, the scale
      // Debezium encodes it at; a numeric without scale at its own.
      const frac = (pgType === 'numeric' ? normDecimal(text) : text).split('.')[1] ?? '';
      const value = b64(twosComplement(unscaledOf(text, frac.length).unscaled));
      return pgType === 'numeric' ? { json: { scale: frac.length, value } } : { string: value };
    }
    case 'money': return { string: b64(twosComplement(unscaledOf(moneyText(text), 2).unscaled)) };
    case 'bool': return { boolean: text === 't' };
    case 'date': {
      if (text === 'infinity' || text === '-infinity') return { number: INFINITY_MARKS.date[text === 'infinity' ? 0 : 1], anyOf: true };
      return { number: pgDateDays(text) };
    }
    case 'time': return { number: String(clockMicros(text)) };
    case 'timetz': return { clock: pgTimetzMicros(text) };
    case 'timestamp': {
      const marks = INFINITY_MARKS[pgType === 'timestamp(3)' ? 'timestamp(3)' : 'timestamp'];
      if (text === 'infinity' || text === '-infinity') return { number: marks[text === 'infinity' ? 0 : 1] };
      const v = BigInt(pgTimestampMicros(text));
      return { number: String(pgType === 'timestamp(3)' ? v / 1000n : v) };
    }
    case 'timestamptz': return text.endsWith('infinity') ? { string: text } : { clock: pgTimestampMicros(text) };
    case 'interval': return { number: debeziumIntervalMicros(pgInterval(text)) };
    case 'bytea': return { string: b64(Buffer.from(text.replace(/^\\x/, ''), 'hex')) };
    case 'bit1': return { boolean: text === '1' };
    case 'bit': case 'varbit': return { string: bitsLittleEndian(text) };
    case 'point': {
      const m = /^\(([^,]+),([^)]+)\)$/.exec(text);
      return { point: [Number(m[1]), Number(m[2])] };
    }
    case 'hstore': return { string: JSON.stringify(pgHstore(text)), jsonText: true };
    default: return { string: text, jsonText: base === 'json' || base === 'jsonb' };
  }
}

export function schemalessFromPg(pgType, text) {
  if (text === null || text === undefined) return null;
  if (pgType.endsWith('[]')) {
    const elem = pgType.slice(0, -2);
    return { list: pgArray(text).map((e) => (e === null ? null : schemalessScalar(elem, e))) };
  }
  return schemalessScalar(pgType, text);
}

// Whether the lake's value (cdc-writer's inferred column: the number, the
// string, or a JSON text when the column mixed kinds) is that JSON value.
export function sameSchemaless(expected, got) {
  if (expected === null) return got === null;
  if (got === null || got === undefined) return false;
  let value = got;
  try { value = JSON.parse(got); } catch { /* a plain string */ }
  if ('number' in expected) {
    if (expected.anyOf) return expected.number.some((n) => sameSchemaless({ number: n }, got));
    if (expected.float4) return Math.fround(Number(got)) === Math.fround(Number(expected.number));
    if (typeof value === 'number' || typeof value === 'string') {
      return /[.eE]/.test(expected.number) || /[.eE]/.test(String(got))
        ? Number(got) === Number(expected.number) : normDecimal(got) === normDecimal(expected.number);
    }
    return false;
  }
  if ('boolean' in expected) return String(value) === String(expected.boolean);
  if ('string' in expected) {
    // A column of strings holds the string; a column of mixed kinds its JSON text.
    const candidates = typeof value === 'string' && got.startsWith('"') ? [got, value] : [got];
    return candidates.some((text) => {
      if (text === expected.string) return true;
      if (!expected.jsonText) return false;
      try { return isDeepEqual(JSON.parse(text), JSON.parse(expected.string)); } catch { return false; }
    });
  }
  if ('clock' in expected) {
    const text = typeof value === 'string' ? value : got;
    const micros = /^\d{2}:/.test(text) ? pgTimetzMicros(text.replace(/Z$/, '+00')) : pgTimestampMicros(text);
    return micros === expected.clock;
  }
  if ('point' in expected) return typeof value === 'object' && value.x === expected.point[0] && value.y === expected.point[1];
  if ('json' in expected) return isDeepEqual(value, expected.json);
  if ('list' in expected) {
    return Array.isArray(value) && value.length === expected.list.length && expected.list.every((e, i) =>
      sameSchemaless(e, value[i] === null ? null : JSON.stringify(value[i])));
  }
  return false;
}
