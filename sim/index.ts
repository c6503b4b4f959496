/** The Ollama simulator: fake Ollama servers with Ollama's HTTP API, timing model, queueing and faults. */
export type {
  PromptCacheSnapshot,
  PromptCacheStats,
  SimFault,
  SimFleet,
  SimFleetConfig,
  SimLogEntry,
  SimModel,
  SimNode,
  SimNodeOptions,
  SimOutcome,
} from './types';
export { startSimNode, LOG_CAPACITY } from './sim-node';
export { startSimFleet } from './sim-fleet';
export { loadFleetFile, validateFleetConfig } from './fleet-file';
export { NODE_DEFAULTS } from './node-options';
export { BUSY_MESSAGE } from './http-errors';
export { countTokens, countChatTokens } from './token-text';
export { chatPromptTokens, rawPromptTokens, textTokenIds, type PromptTokens } from './prompt-tokens';
export { drawOutputTokens, resolveOutputLength, MEDIAN_OUTPUT_TOKENS } from './output-length';
export { normaliseModelName } from './model-names';
export { postJson, readNdjson, readSse, setFaultOverHttp, fetchSimLog, waitFor } from './sim-client';
