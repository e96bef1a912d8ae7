/** The GDB remote-serial-protocol server's face. */
export { GdbServer, type GdbServerOptions } from './server.js';
export { GdbSession, parseThreadId, PACKET_SIZE, type SessionHooks } from './session.js';
export { FrameParser, encodePacket, decodeBody } from './framing.js';
export { REG_LAYOUT, targetXml } from './target.js';
export { runMonitor } from './monitor.js';
