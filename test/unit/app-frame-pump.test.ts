// The live view's frame pump against a scripted worker: never more than one frame in flight,
// frames arriving while busy collapse into the newest, and the two buffers go back and forth
// instead of being reallocated.
import { describe, expect, it } from 'vitest';
import { FramePump, type PumpResult } from '../../src/camera/frame-pump.ts';

interface Call {
  bytes: Uint8Array;
  probabilities: Float32Array;
  frameValue: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** A pump whose "camera" shows `frame.value` and whose "worker" answers when told to. */
function setup() {
  const frame = { value: 0 };
  const calls: Call[] = [];
  const results: { time: number; frameValue: number }[] = [];
  const errors: unknown[] = [];
  const pump = new FramePump<PumpResult & { frameValue: number }>(12, 3, {
    sample: (into) => {
      into.fill(frame.value);
      return true;
    },
    send: (bytes, probabilities) =>
      new Promise((resolve, reject) => {
        const call: Call = {
          bytes,
          probabilities,
          frameValue: bytes[0],
          resolve: () => resolve({ bytes, probabilities, frameValue: bytes[0] }),
          reject,
        };
        calls.push(call);
      }),
    onResult: (r, time) => results.push({ time, frameValue: r.frameValue }),
    onError: (e) => errors.push(e),
  });
  const flush = () => new Promise<void>((r) => setTimeout(r, 0));
  return { frame, calls, results, errors, pump, flush };
}

describe('FramePump', () => {
  it('sends nothing until started and nothing after stop', () => {
    const { pump, calls } = setup();
    pump.frame(1);
    expect(calls).toHaveLength(0);
    pump.start();
    pump.frame(2);
    expect(calls).toHaveLength(1);
  });

  it('keeps one frame in flight; frames that arrive meanwhile collapse into the newest, sent when the answer comes', async () => {
    const { pump, calls, results, frame, flush } = setup();
    pump.start();
    frame.value = 10;
    pump.frame(100);
    frame.value = 11;
    pump.frame(133);
    frame.value = 12;
    pump.frame(166);
    frame.value = 13;
    pump.frame(200);
    expect(calls).toHaveLength(1);
    expect(pump.stats).toMatchObject({ sent: 1, inFlight: 1, maxInFlight: 1, superseded: 2 });

    calls[0].resolve();
    await flush();
    // The answer for the first frame is reported with its own time, and the frame on screen now
    // (the newest) goes out at once, stamped with the newest frame's time.
    expect(results).toEqual([{ time: 100, frameValue: 10 }]);
    expect(calls).toHaveLength(2);
    expect(calls[1].frameValue).toBe(13);
    calls[1].resolve();
    await flush();
    expect(results[1]).toEqual({ time: 200, frameValue: 13 });
    // Nothing was pending: the pump waits for the next frame.
    expect(calls).toHaveLength(2);
    expect(pump.stats).toMatchObject({ sent: 2, answered: 2, inFlight: 0, maxInFlight: 1 });
  });

  it('reuses the buffers the worker hands back', async () => {
    const { pump, calls, flush } = setup();
    pump.start();
    pump.frame(1);
    calls[0].resolve();
    await flush();
    pump.frame(2);
    expect(calls[1].bytes).toBe(calls[0].bytes);
    expect(calls[1].probabilities).toBe(calls[0].probabilities);
  });

  it('reports a failed call, starts again with fresh buffers, and drops answers from before stop()', async () => {
    const { pump, calls, results, errors, flush } = setup();
    pump.start();
    pump.frame(1);
    calls[0].reject(new Error('worker gone'));
    await flush();
    expect(errors).toHaveLength(1);
    pump.frame(2);
    expect(calls).toHaveLength(2);
    expect(calls[1].bytes).not.toBe(calls[0].bytes);
    expect(calls[1].bytes.length).toBe(12);

    pump.stop();
    pump.start();
    calls[1].resolve();
    await flush();
    expect(results).toHaveLength(0);
    pump.frame(3);
    expect(calls).toHaveLength(3);
  });
});
