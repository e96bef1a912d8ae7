import type { Handler } from '../insn.js';
import { sseMoveHandlers } from './sse-move.js';
import { sseFpHandlers } from './sse-fp.js';
import { sseConvertHandlers } from './sse-convert.js';
import { sseIntHandlers } from './sse-int.js';
import { sseShuffleHandlers } from './sse-shuffle.js';
import { sseStateHandlers } from './sse-state.js';
import { sseStringHandlers } from './sse-string.js';

/** All SSE handlers (rows: the SSE section of table.ts). */
export const sseHandlers: Record<string, Handler> = {
  ...sseMoveHandlers, ...sseFpHandlers, ...sseConvertHandlers, ...sseIntHandlers, ...sseShuffleHandlers, ...sseStateHandlers,
  ...sseStringHandlers,
};
