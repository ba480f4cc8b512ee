import type { IncomingMessage } from 'node:http';
import { ProxyError } from '../providers/types.ts';

/** How long a client may take to send its body (like NGINX's client_body_timeout, plus a bound on the whole). */
export interface ClientTimeouts {
  /** Longest time without a body byte while the proxy is ready to take more (--client-body-timeout-ms). */
  bodyIdleMs: number;
  /** Longest time the client may take over the whole body, paused time excluded (--client-request-timeout-ms). */
  requestMs: number;
}

/**
 * Watch a request's body arrive and call `onTimeout` with a CLIENT_TIMEOUT error when it stalls or takes too long. A
 * body trickling in a byte every few seconds would otherwise hold its exchange, and on pass-through routes a pooled
 * upstream connection, for ever. Progress is read from the socket (bytes received), so the watch never consumes the
 * body. Time the socket is paused is not the client's: then the proxy (waiting for memory, or for an upstream that
 * reads slowly) is the one not reading, so it neither counts as idle nor towards the whole-request bound. Returns the
 * function that stops the watch.
 */
export function watchClientBody(
  message: IncomingMessage,
  timeouts: ClientTimeouts,
  onTimeout: (error: ProxyError) => void,
): () => void {
  if (message.complete) return () => {};
  const socket = message.socket;
  let lastTick = performance.now();
  let lastProgress = lastTick;
  let lastBytes = socket.bytesRead;
  let clientMs = 0;
  const tick = Math.max(10, Math.min(1000, Math.min(timeouts.bodyIdleMs, timeouts.requestMs) / 4));
  const timer = setInterval(() => {
    if (message.complete || socket.destroyed) return clearInterval(timer);
    const now = performance.now();
    const paused = socket.isPaused();
    if (!paused) clientMs += now - lastTick;
    lastTick = now;
    if (socket.bytesRead !== lastBytes || paused) {
      lastBytes = socket.bytesRead;
      lastProgress = now;
    }
    let why: string | undefined;
    if (clientMs > timeouts.requestMs) why = `The request body was not received within ${timeouts.requestMs} ms`;
    else if (now - lastProgress > timeouts.bodyIdleMs) {
      why = `No byte of the request body arrived for ${timeouts.bodyIdleMs} ms`;
    }
    if (why === undefined) return;
    clearInterval(timer);
    onTimeout(new ProxyError('CLIENT_TIMEOUT', 408, why));
  }, tick);
  timer.unref();
  return () => clearInterval(timer);
}
