/**
 * Temporal's list filter language (ListWorkflowExecutions / CountWorkflowExecutions), compiled into a predicate
 * over visibility records. Supports =, !=, <>, <, <=, >, >=, [NOT] IN, [NOT] BETWEEN … AND …, STARTS_WITH,
 * IS [NOT] NULL, AND / OR / NOT with parentheses (AND binds tighter), and a trailing ORDER BY.
 * A missing attribute matches nothing but `!=`, `NOT IN` and `IS NULL`, as on Elasticsearch visibility.
 */
export type SearchAttributeType = 'Keyword' | 'Text' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'KeywordList';

export interface VisibilityRecord {
  workflowId: string;
  runId: string;
  workflowType: string;
  executionStatus: 'Running' | 'Completed' | 'Failed' | 'Canceled' | 'Terminated' | 'ContinuedAsNew' | 'TimedOut';
  startTime: Date;
  executionTime: Date;
  closeTime?: Date;
  taskQueue: string;
  searchAttributes: Record<string, unknown>;
}

export class InvalidVisibilityQueryError extends Error {}

export interface CompiledQuery {
  matches(record: VisibilityRecord): boolean;
  orderBy?: { field: string; desc: boolean };
}

type Predicate = (record: VisibilityRecord) => boolean;
type Literal = string | number | boolean;

const SYSTEM: Record<string, { type: SearchAttributeType; get: (r: VisibilityRecord) => unknown }> = {
  WorkflowId: { type: 'Keyword', get: (r) => r.workflowId },
  RunId: { type: 'Keyword', get: (r) => r.runId },
  WorkflowType: { type: 'Keyword', get: (r) => r.workflowType },
  ExecutionStatus: { type: 'Keyword', get: (r) => r.executionStatus },
  TaskQueue: { type: 'Keyword', get: (r) => r.taskQueue },
  StartTime: { type: 'Datetime', get: (r) => r.startTime },
  ExecutionTime: { type: 'Datetime', get: (r) => r.executionTime },
  CloseTime: { type: 'Datetime', get: (r) => r.closeTime },
};

const STATUSES = ['Running', 'Completed', 'Failed', 'Canceled', 'Terminated', 'ContinuedAsNew', 'TimedOut'];

interface Token {
  kind: 'ident' | 'string' | 'number' | 'op' | 'punct' | 'end';
  text: string;
  pos: number;
}

function fail(message: string): never {
  throw new InvalidVisibilityQueryError(`invalid query: ${message}`);
}

function tokenize(query: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < query.length) {
    const c = query[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'" || c === '"') {
      let text = '';
      let j = i + 1;
      for (;;) {
        if (j >= query.length) fail(`unable to parse query: unterminated string at ${i}`);
        if (query[j] === '\\' && j + 1 < query.length) {
          text += query[j + 1];
          j += 2;
        } else if (query[j] === c && query[j + 1] === c) {
          text += c;
          j += 2;
        } else if (query[j] === c) {
          break;
        } else {
          text += query[j++];
        }
      }
      tokens.push({ kind: 'string', text, pos: i });
      i = j + 1;
    } else if (c === '`') {
      const end = query.indexOf('`', i + 1);
      if (end < 0) fail(`unable to parse query: unterminated identifier at ${i}`);
      tokens.push({ kind: 'ident', text: query.slice(i + 1, end), pos: i });
      i = end + 1;
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(query[i + 1] ?? ''))) {
      const match = /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?/.exec(query.slice(i))!;
      tokens.push({ kind: 'number', text: match[0], pos: i });
      i += match[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const match = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(query.slice(i))!;
      tokens.push({ kind: 'ident', text: match[0], pos: i });
      i += match[0].length;
    } else if (c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: 'punct', text: c, pos: i++ });
    } else {
      const op = ['>=', '<=', '!=', '<>', '=', '<', '>'].find((o) => query.startsWith(o, i));
      if (!op) fail(`unable to parse query: unexpected character '${c}' at ${i}`);
      tokens.push({ kind: 'op', text: op, pos: i });
      i += op.length;
    }
  }
  tokens.push({ kind: 'end', text: '', pos: query.length });
  return tokens;
}

class Parser {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly types: ReadonlyMap<string, SearchAttributeType>,
  ) {}

  private peek(): Token {
    return this.tokens[this.i];
  }
  private next(): Token {
    return this.tokens[this.i++];
  }
  private isKeyword(word: string, offset = 0): boolean {
    const token = this.tokens[this.i + offset];
    return token?.kind === 'ident' && token.text.toUpperCase() === word;
  }
  private expectKeyword(word: string): void {
    if (!this.isKeyword(word)) fail(`unable to parse query: expected ${word} at ${this.peek().pos}`);
    this.i++;
  }
  private expectPunct(text: string): void {
    const token = this.next();
    if (token.kind !== 'punct' || token.text !== text)
      fail(`unable to parse query: expected '${text}' at ${token.pos}`);
  }

  parse(): CompiledQuery {
    let predicate: Predicate = () => true;
    if (this.peek().kind !== 'end' && !this.isKeyword('ORDER')) predicate = this.or();
    let orderBy: CompiledQuery['orderBy'];
    if (this.isKeyword('ORDER')) {
      this.i++;
      this.expectKeyword('BY');
      const field = this.next();
      if (field.kind !== 'ident') fail(`unable to parse query: expected a field after ORDER BY`);
      this.resolve(field.text);
      let desc = false;
      if (this.isKeyword('DESC')) {
        desc = true;
        this.i++;
      } else if (this.isKeyword('ASC')) this.i++;
      orderBy = { field: field.text, desc };
    }
    if (this.peek().kind !== 'end')
      fail(`unable to parse query: unexpected '${this.peek().text}' at ${this.peek().pos}`);
    return { matches: predicate, orderBy };
  }

  private or(): Predicate {
    const parts = [this.and()];
    while (this.isKeyword('OR')) {
      this.i++;
      parts.push(this.and());
    }
    return parts.length === 1 ? parts[0] : (r) => parts.some((p) => p(r));
  }

  private and(): Predicate {
    const parts = [this.unary()];
    while (this.isKeyword('AND')) {
      this.i++;
      parts.push(this.unary());
    }
    return parts.length === 1 ? parts[0] : (r) => parts.every((p) => p(r));
  }

  private unary(): Predicate {
    if (this.isKeyword('NOT')) {
      this.i++;
      const inner = this.unary();
      return (r) => !inner(r);
    }
    if (this.peek().kind === 'punct' && this.peek().text === '(') {
      this.i++;
      const inner = this.or();
      this.expectPunct(')');
      return inner;
    }
    return this.comparison();
  }

  private resolve(name: string): { type: SearchAttributeType; get: (r: VisibilityRecord) => unknown } {
    const system = SYSTEM[name];
    if (system) return system;
    const type = this.types.get(name);
    if (!type) fail(`filter expression: column name '${name}' is not a valid search attribute`);
    return { type, get: (r) => r.searchAttributes[name] };
  }

  private literal(name: string, type: SearchAttributeType): Literal {
    const token = this.next();
    let raw: Literal;
    if (token.kind === 'string') raw = token.text;
    else if (token.kind === 'number') raw = Number(token.text);
    else if (token.kind === 'ident' && /^(true|false)$/i.test(token.text)) raw = token.text.toLowerCase() === 'true';
    else fail(`unable to parse query: expected a value for ${name} at ${token.pos}`);
    return convert(name, type, raw);
  }

  private comparison(): Predicate {
    const fieldToken = this.next();
    if (fieldToken.kind !== 'ident') fail(`unable to parse query: expected a field name at ${fieldToken.pos}`);
    const name = fieldToken.text;
    const { type, get } = this.resolve(name);
    const negated = this.isKeyword('NOT') && (this.isKeyword('IN', 1) || this.isKeyword('BETWEEN', 1));
    if (negated) this.i++;
    const wrap = (p: Predicate): Predicate => (negated ? (r) => !p(r) : p);

    if (this.isKeyword('IN')) {
      this.i++;
      this.expectPunct('(');
      const values = [this.literal(name, type)];
      while (this.peek().kind === 'punct' && this.peek().text === ',') {
        this.i++;
        values.push(this.literal(name, type));
      }
      this.expectPunct(')');
      return wrap((r) => values.some((v) => compare(get(r), '=', v, type)));
    }
    if (this.isKeyword('BETWEEN')) {
      this.i++;
      const low = this.literal(name, type);
      this.expectKeyword('AND');
      const high = this.literal(name, type);
      return wrap((r) => compare(get(r), '>=', low, type) && compare(get(r), '<=', high, type));
    }
    if (this.isKeyword('STARTS_WITH')) {
      this.i++;
      if (type !== 'Keyword' && type !== 'KeywordList')
        fail(`filter expression: STARTS_WITH is only supported for Keyword attributes, not ${name}`);
      const prefix = this.literal(name, type);
      return (r) => values(get(r)).some((v) => typeof v === 'string' && v.startsWith(String(prefix)));
    }
    if (this.isKeyword('IS')) {
      this.i++;
      const not = this.isKeyword('NOT');
      if (not) this.i++;
      this.expectKeyword('NULL');
      return (r) => isMissing(get(r)) !== not;
    }
    const op = this.next();
    if (op.kind !== 'op') fail(`unable to parse query: expected an operator after ${name} at ${op.pos}`);
    const value = this.literal(name, type);
    const operator = op.text === '<>' ? '!=' : op.text;
    return (r) => compare(get(r), operator, value, type);
  }
}

function convert(name: string, type: SearchAttributeType, raw: Literal): Literal {
  switch (type) {
    case 'Int':
    case 'Double': {
      const n = typeof raw === 'number' ? raw : Number(raw);
      if (typeof raw === 'boolean' || !Number.isFinite(n))
        fail(`filter expression: invalid value ${JSON.stringify(raw)} for ${type} attribute ${name}`);
      if (type === 'Int' && !Number.isInteger(n))
        fail(`filter expression: invalid value ${raw} for Int attribute ${name}`);
      return n;
    }
    case 'Bool':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === 'false') return raw === 'true';
      return fail(`filter expression: invalid value ${JSON.stringify(raw)} for Bool attribute ${name}`);
    case 'Datetime': {
      const ms = typeof raw === 'number' ? raw / 1e6 : Date.parse(String(raw)); // numbers are nanoseconds, as on the server
      if (typeof raw === 'boolean' || !Number.isFinite(ms))
        fail(`filter expression: invalid datetime ${JSON.stringify(raw)} for ${name}`);
      return ms;
    }
    default:
      if (typeof raw === 'boolean') fail(`filter expression: invalid value ${raw} for ${type} attribute ${name}`);
      if (name === 'ExecutionStatus') {
        const status = STATUSES.find((s) => s.toLowerCase() === String(raw).toLowerCase());
        if (!status) fail(`filter expression: invalid ExecutionStatus value '${raw}'`);
        return status;
      }
      return String(raw);
  }
}

function isMissing(value: unknown): boolean {
  return value === undefined || value === null || (Array.isArray(value) && value.length === 0);
}

function values(value: unknown): unknown[] {
  return Array.isArray(value) ? value : isMissing(value) ? [] : [value];
}

function normalise(value: unknown, type: SearchAttributeType): unknown {
  if (type === 'Datetime')
    return value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : value;
  return value;
}

function compare(actual: unknown, op: string, expected: Literal, type: SearchAttributeType): boolean {
  if (isMissing(actual)) return op === '!=';
  if (type === 'KeywordList') {
    const contains = values(actual).includes(expected);
    if (op === '=') return contains;
    if (op === '!=') return !contains;
    return values(actual).some((v) => ordered(v, op, expected));
  }
  if (type === 'Text') {
    const words = String(actual).toLowerCase().split(/\W+/).filter(Boolean);
    const wanted = String(expected).toLowerCase().split(/\W+/).filter(Boolean);
    const contains = wanted.every((w) => words.includes(w));
    if (op === '=') return contains;
    if (op === '!=') return !contains;
    return ordered(actual, op, expected);
  }
  const value = normalise(actual, type);
  if (op === '=') return value === expected;
  if (op === '!=') return value !== expected;
  return ordered(value, op, expected);
}

function ordered(a: unknown, op: string, b: Literal): boolean {
  if (typeof a !== typeof b) return false;
  const x = a as string | number;
  const y = b as string | number;
  switch (op) {
    case '<':
      return x < y;
    case '<=':
      return x <= y;
    case '>':
      return x > y;
    case '>=':
      return x >= y;
    default:
      return false;
  }
}

/** The value ORDER BY sorts on: a number for times and numbers, a string otherwise, undefined when missing. */
export function sortValue(record: VisibilityRecord, field: string): number | string | undefined {
  const value = SYSTEM[field] ? SYSTEM[field].get(record) : record.searchAttributes[field];
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number' || typeof value === 'string') return value;
  return undefined;
}

export function compileVisibilityQuery(
  query: string,
  customTypes: ReadonlyMap<string, SearchAttributeType>,
): CompiledQuery {
  return new Parser(tokenize(query ?? ''), customTypes).parse();
}
