/**
 * Cache scenarios: short scripted experiments, each showing one OpenSSL rule with real
 * in-memory handshakes. Every result carries the raw observations (typed fields) and a
 * readable `log` of what was done and seen. Time is moved with SSL_SESSION_set_time, never
 * by sleeping.
 */
import { timeoutThenFlush, type TimeoutFlushResult, SUMMARY as timeoutFlushSummary } from './scenarios/timeout-flush.js';
import { cacheSizeEviction, type CacheSizeResult, SUMMARY as cacheSizeSummary } from './scenarios/cache-size.js';
import {
  sidCtxMismatch,
  type SidCtxServerResult,
  type SidCtxResult,
  SUMMARY as sidCtxMismatchSummary,
} from './scenarios/sid-ctx-mismatch.js';
import {
  clientWithoutShutdown,
  type ServerEnding,
  type NoShutdownVariant,
  type NoShutdownResult,
  SUMMARY as clientNoShutdownSummary,
} from './scenarios/client-no-shutdown.js';
import { closeWithSessions, type CloseSide, type CloseResult, SUMMARY as closeSummary } from './scenarios/close.js';
import { updateTime, type UpdateTimeVariant, type UpdateTimeResult, SUMMARY as updateTimeSummary } from './scenarios/update-time.js';
import { autoClear, type AutoClearVariant, type AutoClearResult, SUMMARY as autoClearSummary } from './scenarios/auto-clear.js';

export type { ScenarioBase } from './scenarios/common.js';
export type {
  TimeoutFlushResult,
  CacheSizeResult,
  SidCtxServerResult,
  SidCtxResult,
  ServerEnding,
  NoShutdownVariant,
  NoShutdownResult,
  CloseSide,
  CloseResult,
  UpdateTimeVariant,
  UpdateTimeResult,
  AutoClearVariant,
  AutoClearResult,
};
export { timeoutThenFlush, cacheSizeEviction, sidCtxMismatch, clientWithoutShutdown, closeWithSessions, updateTime, autoClear };

/** Every scenario, by name. */
export const SCENARIOS = {
  'timeout-flush': { summary: timeoutFlushSummary, run: timeoutThenFlush },
  'cache-size': { summary: cacheSizeSummary, run: cacheSizeEviction },
  'sid-ctx-mismatch': { summary: sidCtxMismatchSummary, run: sidCtxMismatch },
  'client-no-shutdown': { summary: clientNoShutdownSummary, run: clientWithoutShutdown },
  close: { summary: closeSummary, run: closeWithSessions },
  'update-time': { summary: updateTimeSummary, run: updateTime },
  'auto-clear': { summary: autoClearSummary, run: autoClear },
} as const;

/** Names of the scenarios. */
export type ScenarioName = keyof typeof SCENARIOS;

/** The result type of each scenario. */
export interface ScenarioResults {
  'timeout-flush': TimeoutFlushResult;
  'cache-size': CacheSizeResult;
  'sid-ctx-mismatch': SidCtxResult;
  'client-no-shutdown': NoShutdownResult;
  close: CloseResult;
  'update-time': UpdateTimeResult;
  'auto-clear': AutoClearResult;
}

/** Any scenario's result. */
export type ScenarioResult = ScenarioResults[ScenarioName];

/** All scenario names, in a stable order. */
export const SCENARIO_NAMES = Object.keys(SCENARIOS) as ScenarioName[];

/** Runs one scenario by name. Throws a RangeError for an unknown name. */
export function runScenario<N extends ScenarioName>(name: N): ScenarioResults[N] {
  if (typeof name !== 'string' || !Object.hasOwn(SCENARIOS, name)) {
    throw new RangeError(`unknown scenario "${String(name)}" (known: ${SCENARIO_NAMES.join(', ')})`);
  }
  const run = SCENARIOS[name].run as () => unknown;
  return run() as ScenarioResults[N];
}

/** Runs every scenario in order. */
export function runScenarios(): ScenarioResult[] {
  return SCENARIO_NAMES.map((name) => runScenario(name));
}
