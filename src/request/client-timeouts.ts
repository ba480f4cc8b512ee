import type { IncomingMessage } from 'node:http';
import { ProxyError } from '../providers/types.ts';

/** How long a client may take to send its body (like NGINX's client_body_timeout, plus a bound on the whole). */
export interface ClientTimeouts {
  /** Longest time without a body byte while the proxy is ready to take more (--client-body-timeout-ms). */
  bodyIdleMs: number;
  /** Longest time from the request's arrival to its last body byte (--client-request-timeout-ms). */
  requestMs: number;
}

/**
 * Watch a request's body arrive and call `onTimeout` with a CLIENT_TIMEOUT error when it stalls or takes too long. A
 * body trickling in a byte every few seconds would otherwise hold its exchange, and on pass-through routes a pooled
 * upstream connection, for ever. Progress is read from the socket (bytes received), so the watch never consumes the
 * body; time the socket is paused counts as progress, because then the proxy (or the upstream it streams to) is the
 * one not reading. Returns the function that stops the watch.
 */
export function watchClientBody(
  message: IncomingMessage,
  timeouts: ClientTimeouts,
  onTimeout: (error: ProxyError) => void,
): () => void {
  if (message.complete) return () => {};
  const socket = message.socket;
  const started = performance.now();
  let lastProgress = started;
  let lastBytes = socket.bytesRead;
  const tick = Math.max(10, Math.min(1000, Math.min(timeouts.bodyIdleMs, timeouts.requestMs) / 4));
  const timer = setInterval(() => {
    if (message.complete || socket.destroyed) return clearInterval(timer);
    const now = performance.now();
    if (socket.bytesRead !== lastBytes || socket.isPaused()) {
      lastBytes = socket.bytesRead;
      lastProgress = now;
    }
    let message_: string | undefined;
    if (now - started > timeouts.requestMs) {
      message_ = `The request body was not received within ${timeouts.requestMs} ms`;
    } else if (now - lastProgress > timeouts.bodyIdleMs) {
      message_ = `No byte of the request body arrived for ${timeouts.bodyIdleMs} ms`;
    }
    if (message_ === undefined) return;
    clearInterval(timer);
    onTimeout(new ProxyError('CLIENT_TIMEOUT', 408, message_));
  }, tick);
  timer.unref();
  return () => clearInterval(timer);
}
