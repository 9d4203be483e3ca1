/**
 * The cache-mode lab: OpenSSL's session cache, observed. `runMatrix()` runs every cache mode
 * combination in memory; `runScenario()` runs one scripted experiment; format.ts renders both.
 */
export { CLIENT_MODES, SERVER_MODES, modeName, parseMode, type LabMode } from './modes.js';
export {
  runCell,
  runMatrix,
  reusePattern,
  type CellConfig,
  type CellResult,
  type MatrixOptions,
  type MatrixResult,
  type SideResult,
} from './matrix.js';
export {
  SCENARIOS,
  SCENARIO_NAMES,
  autoClear,
  cacheSizeEviction,
  clientWithoutShutdown,
  closeWithSessions,
  runScenario,
  runScenarios,
  sidCtxMismatch,
  timeoutThenFlush,
  updateTime,
  type AutoClearResult,
  type CacheSizeResult,
  type CloseResult,
  type NoShutdownResult,
  type ScenarioName,
  type ScenarioResult,
  type ScenarioResults,
  type SidCtxResult,
  type TimeoutFlushResult,
  type UpdateTimeResult,
} from './scenarios.js';
export { formatMatrixTable, formatScenarios } from './format.js';
export type { CacheCounters, CallbackCounts, LabVersion } from './harness.js';
