import { dirname } from 'node:path';

/**
 * tslab publishes every output (stdout text, display data, the busy/idle status) on one zeromq
 * Publisher without waiting for the previous send to finish, and zeromq 6 refuses a send while
 * one is in progress: it throws EBUSY ("Socket is busy writing; only one send operation may be in
 * progress at any time") and the kernel dies. A cell that prints and redraws a figure in quick
 * succession (a training loop's progress and its live loss curve) triggers it, more often on a
 * loaded machine. This queues the sends of each Publisher one after another instead: same
 * messages, same order. (Like any zeromq PUB socket, tslab's iopub still drops messages when more
 * than its high-water mark of 1000 wait for a frontend that has fallen behind; a test floods 300
 * lines and 300 figures and gets them all.)
 *
 * Installed when the kit is imported inside a tslab kernel; returns whether it is installed.
 */
export function serializeKernelSends(): boolean {
  let zmq: { Publisher: { prototype: Record<string, unknown> } };
  try {
    // The zeromq instance tslab itself loaded (resolved from tslab's folder).
    const tslabDir = dirname(require.resolve('tslab/package.json'));
    const jupyter = require.resolve('tslab/dist/jupyter');
    if (!(jupyter in require.cache)) return false; // not running inside a tslab kernel
    zmq = require(require.resolve('zeromq', { paths: [tslabDir] }));
  } catch {
    return false;
  }
  const proto = zmq.Publisher.prototype;
  if (proto[SERIALIZED] === true) return true;
  const original = proto.send as (this: object, message: unknown) => Promise<void>;
  const tails = new WeakMap<object, Promise<void>>();
  Object.defineProperty(proto, 'send', {
    configurable: true,
    writable: true,
    value: function send(this: object, message: unknown): Promise<void> {
      const previous = tails.get(this) ?? Promise.resolve();
      const sent = previous.then(() => original.call(this, message));
      // tslab ignores the promise: report a failed send on the kernel's stderr instead of an
      // unhandled rejection (which would kill the kernel).
      const settled = sent.catch((error: unknown) => {
        process.stderr.write(`kit: a kernel message could not be sent: ${String(error)}\n`);
      });
      tails.set(this, settled);
      return settled;
    },
  });
  Object.defineProperty(proto, SERIALIZED, { value: true });
  return true;
}

const SERIALIZED = '__kitSerializedSends';
