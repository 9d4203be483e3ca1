/**
 * `openssl-session matrix`: the cache-mode lab. Runs every server cache mode x client cache
 * mode x TLS 1.2/1.3 x tickets on/off x external store on/off in memory (lib/lab) and prints
 * one row per cell; `--scenarios` prints the scripted cache scenarios instead; `--json` gives
 * either as JSON.
 */
import { parseArgs } from 'node:util';

import { formatMatrixTable, formatScenarios } from '../lab/format.js';
import type { LabVersion } from '../lab/harness.js';
import { type MatrixOptions, runMatrix } from '../lab/matrix.js';
import { CLIENT_MODES, type LabMode, SERVER_MODES } from '../lab/modes.js';
import { runScenario, SCENARIO_NAMES, SCENARIOS, type ScenarioName } from '../lab/scenarios.js';

const HELP = `usage: openssl-session matrix [options]

The cache-mode lab. Every server cache mode (OFF, SERVER, SERVER|NO_INTERNAL_LOOKUP,
SERVER|NO_INTERNAL_STORE, SERVER|NO_INTERNAL, SERVER|NO_AUTO_CLEAR, SERVER|UPDATE_TIME) x
client cache mode (default(SERVER), CLIENT, CLIENT|NO_INTERNAL_STORE) x TLS 1.2/1.3 x tickets
on/off x external store on/off, each a first connection and N reconnects offering the
previous session, run in memory against the OpenSSL inside node. Prints per cell: reuse per
connection, session callback counts on each side, and the SSL_CTX_sess_* counters.

options:
  --json               machine-readable output (the MatrixResult, or the scenario results)
  --scenarios          run the scripted scenarios instead of the matrix:
${SCENARIO_NAMES.map((n) => `                         ${n.padEnd(20)} ${SCENARIOS[n].summary}`).join('\n')}
  --scenario NAME      run one scenario (may be repeated)
  --tls 1.2|1.3        only this TLS version
  --server-mode NAME   only this server mode (may be repeated), e.g. 'SERVER|NO_INTERNAL'
  --client-mode NAME   only this client mode (may be repeated), e.g. CLIENT
  --reconnects N       reconnects per cell (default 3)
  --no-remove-cb       do not install the server's remove callback (TLS 1.3 servers then keep
                       stateless-ticket sessions out of their internal cache)
  --help               this text`;

interface Parsed {
  help: boolean;
  json: boolean;
  scenarios: ScenarioName[] | null;
  matrix: MatrixOptions;
}

function pick(names: string[] | undefined, all: readonly LabMode[], flag: string): readonly LabMode[] | undefined {
  if (names === undefined || names.length === 0) return undefined;
  return names.map((name) => {
    const found = all.find((m) => m.name.toLowerCase() === name.trim().toLowerCase());
    if (found === undefined) throw new Error(`${flag} wants one of ${all.map((m) => `'${m.name}'`).join(', ')}; got '${name}'`);
    return found;
  });
}

function parse(argv: string[]): Parsed {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      scenarios: { type: 'boolean', default: false },
      scenario: { type: 'string', multiple: true },
      tls: { type: 'string' },
      'server-mode': { type: 'string', multiple: true },
      'client-mode': { type: 'string', multiple: true },
      reconnects: { type: 'string' },
      'no-remove-cb': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const matrix: MatrixOptions = {};
  if (values.tls !== undefined) {
    const versions: Record<string, LabVersion> = { '1.2': 'TLSv1.2', '1.3': 'TLSv1.3', 'tlsv1.2': 'TLSv1.2', 'tlsv1.3': 'TLSv1.3' };
    const version = versions[values.tls.toLowerCase()];
    if (version === undefined) throw new Error(`--tls wants 1.2 or 1.3, got "${values.tls}"`);
    matrix.versions = [version];
  }
  const serverModes = pick(values['server-mode'], SERVER_MODES, '--server-mode');
  if (serverModes) matrix.serverModes = serverModes;
  const clientModes = pick(values['client-mode'], CLIENT_MODES, '--client-mode');
  if (clientModes) matrix.clientModes = clientModes;
  if (values.reconnects !== undefined) {
    const n = Number(values.reconnects);
    if (!Number.isInteger(n) || n < 0 || n > 1000) throw new Error(`--reconnects wants an integer 0..1000, got "${values.reconnects}"`);
    matrix.reconnects = n;
  }
  if (values['no-remove-cb']) matrix.serverRemoveCallback = false;
  let scenarios: ScenarioName[] | null = null;
  if (values.scenario !== undefined && values.scenario.length > 0) {
    scenarios = values.scenario.map((name) => {
      if (!(SCENARIO_NAMES as string[]).includes(name))
        throw new Error(`--scenario wants one of ${SCENARIO_NAMES.join(', ')}; got "${name}"`);
      return name as ScenarioName;
    });
  } else if (values.scenarios) {
    scenarios = [...SCENARIO_NAMES];
  }
  return { help: values.help, json: values.json, scenarios, matrix };
}

export async function run(argv: string[]): Promise<number> {
  const options = parse(argv);
  if (options.help) {
    console.log(HELP);
    return 0;
  }
  if (options.scenarios !== null) {
    const results = options.scenarios.map((name) => runScenario(name));
    console.log(options.json ? JSON.stringify(results, null, 2) : formatScenarios(results));
    return 0;
  }
  const result = runMatrix(options.matrix);
  console.log(options.json ? JSON.stringify(result, null, 2) : formatMatrixTable(result));
  return 0;
}
