// The page's half of live-frame sampling against stand-in video, frames and worker: which path a
// frame takes, that every VideoFrame taken is closed, that the FramePump's one-in-flight and
// buffer reuse hold with it, and the switch to page sampling when the worker cannot read frames.
import { describe, expect, it } from 'vitest';
import { FramePump } from '../../src/camera/frame-pump.ts';
import { LiveFrameSampler, type FrameSink } from '../../src/camera/live-frame-sampler.ts';
import type { Prediction } from '../../src/worker-api.ts';

class FakeFrame {
  static made = 0;
  static closed = 0;
  closed = false;
  constructor(readonly value: number) {
    FakeFrame.made++;
  }
  close(): void {
    if (!this.closed) FakeFrame.closed++;
    this.closed = true;
  }
}

interface Call {
  kind: 'predict' | 'predictFrame';
  frame: FakeFrame | null;
  bytes: Uint8Array;
  into: Float32Array;
  answer: () => void;
  fail: (e: unknown) => void;
}

function setup(mode: 'worker' | 'page' = 'worker') {
  FakeFrame.made = 0;
  FakeFrame.closed = 0;
  const video = { readyState: 4, videoWidth: 640, videoHeight: 480, shown: 7 };
  const pageSamples: number[] = [];
  const pageSampler = {
    sample(source: CanvasImageSource, w: number, h: number, out: Uint8Array) {
      pageSamples.push(w * 10000 + h);
      out.fill((source as unknown as typeof video).shown);
      return out;
    },
  };
  const calls: Call[] = [];
  const reply = (kind: Call['kind'], frame: FakeFrame | null, bytes: Uint8Array, into: Float32Array) =>
    new Promise<Prediction>((resolve, reject) => {
      calls.push({
        kind,
        frame,
        bytes,
        into,
        // The worker fills the bytes from the frame (the stand-in frame's value) and answers.
        answer: () => {
          if (frame) bytes.fill(frame.value);
          resolve({ probabilities: into, top: [], inferenceMs: 0, backend: 'cpu', bytes });
        },
        fail: reject,
      });
    });
  const sink: FrameSink = {
    predict: (bytes, _k, into) => reply('predict', null, bytes, into),
    predictFrame: (frame, bytes, _k, into) => {
      const f = frame as unknown as FakeFrame;
      const answer = reply('predictFrame', f, bytes, into);
      // As a transfer does: the page's handle is closed once posted.
      f.close();
      return answer;
    },
  };
  const grabs: number[] = [];
  const sampler = new LiveFrameSampler(video as unknown as HTMLVideoElement, pageSampler, sink, {
    mode,
    grab: (v) => {
      const shown = (v as unknown as typeof video).shown;
      grabs.push(shown);
      return new FakeFrame(shown) as unknown as VideoFrame;
    },
  });
  return { video, pageSamples, calls, sampler, grabs };
}

const flush = () => new Promise<void>((r) => setTimeout(r, 0));

describe('LiveFrameSampler', () => {
  it('worker mode: takes a VideoFrame, leaves the bytes to the worker and sends the frame with both buffers', async () => {
    const { sampler, calls, pageSamples, grabs } = setup('worker');
    const bytes = new Uint8Array(12).fill(99);
    const into = new Float32Array(3);
    expect(sampler.sample(bytes)).toBe(true);
    expect(grabs).toEqual([7]);
    expect(pageSamples).toEqual([]);
    expect([...bytes]).toEqual(new Array(12).fill(99));
    const answer = sampler.send(bytes, into, 1);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ kind: 'predictFrame', bytes, into });
    expect(calls[0].frame?.closed).toBe(true);
    calls[0].answer();
    const r = await answer;
    expect(r.bytes).toBe(bytes);
    expect([...r.bytes]).toEqual(new Array(12).fill(7));
  });

  it('page mode: samples the video into the bytes and sends the bytes', () => {
    const { sampler, calls, pageSamples, grabs } = setup('page');
    const bytes = new Uint8Array(12);
    expect(sampler.sample(bytes)).toBe(true);
    expect(grabs).toEqual([]);
    expect(pageSamples).toEqual([640 * 10000 + 480]);
    expect([...bytes]).toEqual(new Array(12).fill(7));
    void sampler.send(bytes, new Float32Array(3), 1);
    expect(calls[0]).toMatchObject({ kind: 'predict', frame: null, bytes });
  });

  it('has nothing to sample before the video has a frame', () => {
    const { sampler, video, grabs, pageSamples } = setup('worker');
    video.readyState = 1;
    expect(sampler.sample(new Uint8Array(12))).toBe(false);
    video.readyState = 4;
    video.videoWidth = 0;
    expect(sampler.sample(new Uint8Array(12))).toBe(false);
    expect(grabs).toEqual([]);
    expect(pageSamples).toEqual([]);
  });

  it('samples on the page this once when no VideoFrame can be made of the element', () => {
    const { video, pageSamples, calls } = setup('worker');
    const sink: FrameSink = {
      predict: (bytes, _k, into) => Promise.resolve({ probabilities: into, top: [], inferenceMs: 0, backend: 'cpu', bytes }),
      predictFrame: () => Promise.reject(new Error('not expected')),
    };
    const pageSampler = { sample: (_s: CanvasImageSource, _w: number, _h: number, out: Uint8Array) => (pageSamples.push(1), out.fill(5)) };
    const s = new LiveFrameSampler(video as unknown as HTMLVideoElement, pageSampler, sink, {
      mode: 'worker',
      grab: () => {
        throw new DOMException('no frame', 'InvalidStateError');
      },
    });
    const bytes = new Uint8Array(12);
    expect(s.sample(bytes)).toBe(true);
    expect(pageSamples).toEqual([1]);
    expect(bytes[0]).toBe(5);
    expect(s.mode).toBe('worker');
    expect(calls).toHaveLength(0);
  });

  it('closes a frame that was taken and not sent', () => {
    const { sampler } = setup('worker');
    sampler.sample(new Uint8Array(12));
    sampler.sample(new Uint8Array(12));
    expect([FakeFrame.made, FakeFrame.closed]).toEqual([2, 1]);
    sampler.dropFrame();
    expect(FakeFrame.closed).toBe(2);
  });

  it('closes the frame when posting it fails, and passes the error on', async () => {
    const { video } = setup('worker');
    let frame: FakeFrame | null = null;
    const sink: FrameSink = {
      predict: () => Promise.reject(new Error('not expected')),
      predictFrame: () => {
        throw new DOMException('could not clone', 'DataCloneError');
      },
    };
    const s = new LiveFrameSampler(video as unknown as HTMLVideoElement, { sample: (_a, _b, _c, o) => o }, sink, {
      mode: 'worker',
      grab: () => (frame = new FakeFrame(1)) as unknown as VideoFrame,
    });
    s.sample(new Uint8Array(12));
    expect(() => s.send(new Uint8Array(12), new Float32Array(3), 1)).toThrow(/could not clone/);
    expect(frame!.closed).toBe(true);
  });

  it('switches to page sampling when the worker cannot read frames, and answers that frame from the page', async () => {
    const { sampler, calls, video } = setup('worker');
    const bytes = new Uint8Array(12);
    sampler.sample(bytes);
    const answer = sampler.send(bytes, new Float32Array(3), 1);
    video.shown = 8;
    calls[0].fail(Object.assign(new Error('camera frames cannot be reduced in this worker: it has no OffscreenCanvas'), { name: 'FrameSamplingError' }));
    await flush();
    expect(sampler.mode).toBe('page');
    expect(sampler.fallbackReason).toMatch(/no OffscreenCanvas/);
    expect(calls).toHaveLength(2);
    expect(calls[1].kind).toBe('predict');
    // New buffers of the same sizes (the first ones went to the worker), holding the frame now shown.
    expect(calls[1].bytes).not.toBe(bytes);
    expect(calls[1].bytes.length).toBe(12);
    expect(calls[1].into.length).toBe(3);
    expect([...calls[1].bytes]).toEqual(new Array(12).fill(8));
    calls[1].answer();
    expect((await answer).bytes).toBe(calls[1].bytes);
  });

  it('passes other worker errors on and stays in worker mode', async () => {
    const { sampler, calls } = setup('worker');
    const bytes = new Uint8Array(12);
    sampler.sample(bytes);
    const answer = sampler.send(bytes, new Float32Array(3), 1);
    calls[0].fail(new Error('predict: no model loaded'));
    await expect(answer).rejects.toThrow(/no model loaded/);
    expect(sampler.mode).toBe('worker');
    expect(calls).toHaveLength(1);
  });

  it('under the FramePump: one frame in flight, newest wins, every VideoFrame closed, buffers reused', async () => {
    const { sampler, calls, video, grabs } = setup('worker');
    const results: number[] = [];
    const pump = new FramePump<Prediction>(12, 3, {
      sample: (into) => sampler.sample(into),
      send: (bytes, probabilities) => sampler.send(bytes, probabilities, 1),
      onResult: (r) => results.push(r.bytes[0]),
      onError: (e) => {
        throw e;
      },
    });
    pump.start();
    video.shown = 1;
    pump.frame(1);
    for (const shown of [2, 3, 4]) {
      video.shown = shown;
      pump.frame(shown);
    }
    expect(calls).toHaveLength(1);
    // Frames that come while one is in flight are not wrapped: nothing to close, nothing held.
    expect(grabs).toEqual([1]);
    calls[0].answer();
    await flush();
    expect(grabs).toEqual([1, 4]);
    expect(calls).toHaveLength(2);
    expect(calls[1].bytes).toBe(calls[0].bytes);
    expect(calls[1].into).toBe(calls[0].into);
    calls[1].answer();
    await flush();
    expect(results).toEqual([1, 4]);
    expect(pump.stats).toMatchObject({ sent: 2, answered: 2, superseded: 2, maxInFlight: 1 });
    expect([FakeFrame.made, FakeFrame.closed]).toEqual([2, 2]);
  });
});
