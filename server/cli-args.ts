/**
 * Command-line arguments, in both forms @temporalio/testing launches servers with:
 *   <port> [extra args]                       the time-skipping test server
 *   server start-dev --port P --namespace N … the Temporal CLI dev server
 * Flags this server has no use for get a warning line each, never an error: launchers pass many of them.
 */
import type { SearchAttributeType } from './visibility-query';

export interface ServerOptions {
  mode: 'time-skipping' | 'dev';
  port: number;
  ip: string;
  namespaces: string[];
  searchAttributes: { name: string; type: SearchAttributeType }[];
  dynamicConfig: Record<string, unknown>;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  warnings: string[];
}

export class CliArgsError extends Error {}

const TYPES: Record<string, SearchAttributeType> = {
  keyword: 'Keyword',
  text: 'Text',
  int: 'Int',
  double: 'Double',
  bool: 'Bool',
  datetime: 'Datetime',
  keywordlist: 'KeywordList',
};

/** Flags that are accepted and meaningless here (the UI, persistence, log format). */
const IGNORED_WITH_VALUE = new Set([
  '--log-format',
  '--ui-ip',
  '--ui-asset-path',
  '--ui-codec-endpoint',
  '--sqlite-pragma',
  '--config-file',
  '--env',
]);
const IGNORED_SWITCHES = new Set(['--headless', '--keep-running-without-parent']);
const UNSUPPORTED_WITH_VALUE = new Set(['--db-filename', '--ui-port', '--http-port', '--metrics-port', '--log-config']);

function parsePort(value: string | undefined, flag: string): number {
  const port = Number(value);
  if (!value || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new CliArgsError(`${flag}: invalid port "${value ?? ''}"`);
  return port;
}

function parseDynamicValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

export function parseServerArgs(argv: string[]): ServerOptions {
  const options: ServerOptions = {
    mode: 'dev',
    port: 7233,
    ip: '127.0.0.1',
    namespaces: ['default'],
    searchAttributes: [],
    dynamicConfig: {},
    logLevel: 'warn',
    warnings: [],
  };
  let rest = argv;
  if (argv[0] === 'server') {
    if (argv[1] !== 'start-dev')
      throw new CliArgsError(`unknown command "server ${argv[1] ?? ''}": only "server start-dev" is supported`);
    rest = argv.slice(2);
  } else if (argv.length > 0 && !argv[0].startsWith('-')) {
    options.mode = 'time-skipping';
    options.port = parsePort(argv[0], 'port');
    rest = argv.slice(1);
  }

  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (!arg.startsWith('--')) {
      options.warnings.push(`ignored argument "${arg}"`);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const next = rest[i + 1];
      if (next === undefined || next.startsWith('--')) throw new CliArgsError(`${flag} needs a value`);
      i++;
      return next;
    };
    switch (flag) {
      case '--port':
      case '-p':
        options.port = parsePort(value(), flag);
        break;
      case '--ip':
        options.ip = value();
        break;
      case '--namespace':
      case '-n': {
        const namespace = value();
        if (!options.namespaces.includes(namespace)) options.namespaces.push(namespace);
        break;
      }
      case '--search-attribute': {
        const spec = value();
        const [name, type] = spec.split('=');
        const normalised = TYPES[(type ?? '').toLowerCase()];
        if (!name || !normalised) {
          throw new CliArgsError(
            `--search-attribute ${spec}: expected NAME=TYPE with TYPE one of ${Object.values(TYPES).join(', ')}`,
          );
        }
        options.searchAttributes.push({ name, type: normalised });
        break;
      }
      case '--dynamic-config-value': {
        const spec = value();
        const eqAt = spec.indexOf('=');
        if (eqAt <= 0) throw new CliArgsError(`--dynamic-config-value ${spec}: expected KEY=VALUE`);
        options.dynamicConfig[spec.slice(0, eqAt)] = parseDynamicValue(spec.slice(eqAt + 1));
        break;
      }
      case '--log-level': {
        const level = value().toLowerCase();
        if (level === 'debug' || level === 'info' || level === 'warn' || level === 'error') options.logLevel = level;
        else options.warnings.push(`--log-level ${level}: unknown level, using warn`);
        break;
      }
      default:
        if (IGNORED_SWITCHES.has(flag)) break;
        if (IGNORED_WITH_VALUE.has(flag)) {
          value();
          break;
        }
        if (UNSUPPORTED_WITH_VALUE.has(flag)) {
          options.warnings.push(
            `${flag} ${value()} is not supported by the embedded server (in memory, no UI); ignored`,
          );
          break;
        }
        // An unknown flag: skip its value if it seems to have one, and say so.
        if (inline === undefined && rest[i + 1] !== undefined && !rest[i + 1].startsWith('--')) i++;
        options.warnings.push(`${flag} is not supported by the embedded server; ignored`);
    }
  }
  return options;
}
