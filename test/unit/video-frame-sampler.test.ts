// The worker's half of live-frame sampling in Node (no OffscreenCanvas here; the reduction itself is
// checked against the page path in a real browser by test/e2e/frame-sampling.spec.ts): every frame
// is closed, whatever happens; a worker without OffscreenCanvas says so by name; and
// EngineHost.predictFrame answers exactly as predict does on the bytes the frame reduces to.
import { describe, expect, it } from 'vitest';
import { FrameSamplingError, VideoFrameSampler } from '../../src/camera/video-frame-sampler.ts';
import { untrainedDefaultModel } from '../../src/worker/default-model.ts';
import { EngineHost } from '../../src/worker/engine-host.ts';

function fakeFrame(displayWidth: number, displayHeight: number) {
  const frame = { displayWidth, displayHeight, closes: 0, close: () => void frame.closes++ };
  return frame;
}
const asFrame = (f: ReturnType<typeof fakeFrame>) => f as unknown as VideoFrame;

describe('VideoFrameSampler', () => {
  it('hands the frame and its display size to the sampler, then closes it', () => {
    const seen: [unknown, number, number][] = [];
    const s = new VideoFrameSampler({ sample: (src, w, h, out) => (seen.push([src, w, h]), out.fill(3)) });
    const f = fakeFrame(640, 480);
    const out = s.sample(asFrame(f), new Uint8Array(12));
    expect(seen).toEqual([[f, 640, 480]]);
    expect([...out]).toEqual(new Array(12).fill(3));
    expect(f.closes).toBe(1);
  });

  it('closes the frame when sampling throws', () => {
    const s = new VideoFrameSampler({
      sample: () => {
        throw new RangeError('bad output size');
      },
    });
    const f = fakeFrame(640, 480);
    expect(() => s.sample(asFrame(f), new Uint8Array(12))).toThrow('bad output size');
    expect(f.closes).toBe(1);
  });

  it('refuses a frame without pixels, naming its size, and closes it', () => {
    const s = new VideoFrameSampler({ sample: (_s, _w, _h, out) => out });
    const f = fakeFrame(0, 480);
    expect(() => s.sample(asFrame(f), new Uint8Array(12))).toThrow(/frame is 0×480 pixels/);
    expect(f.closes).toBe(1);
  });

  it('without OffscreenCanvas (Node) throws a FrameSamplingError and closes the frame', () => {
    expect(typeof OffscreenCanvas).toBe('undefined');
    const f = fakeFrame(640, 480);
    let error: unknown;
    try {
      new VideoFrameSampler().sample(asFrame(f), new Uint8Array(3072));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FrameSamplingError);
    expect((error as Error).name).toBe('FrameSamplingError');
    expect(f.closes).toBe(1);
  });
});

describe('EngineHost.predictFrame', () => {
  // A deterministic "reduction": the frame's size picks the picture.
  const picture = (w: number, h: number, out: Uint8Array) => {
    for (let i = 0; i < out.length; i++) out[i] = (i * 7 + w + 3 * h) & 255;
    return out;
  };

  it('answers as predict does on the reduced bytes, returns them, reports the reduction time and closes the frame', async () => {
    // This sampler does not close the frame: the host does.
    const host = new EngineHost({ frameSampler: { sample: (f, out) => picture(f.displayWidth, f.displayHeight, out) } });
    const m = untrainedDefaultModel();
    await host.load(m.spec, m.params);
    const f = fakeFrame(640, 480);
    const bytes = new Uint8Array(32 * 32 * 3);
    const into = new Float32Array(m.spec.labels.length);
    const r = await host.predictFrame(asFrame(f), bytes, 3, into);
    expect(f.closes).toBe(1);
    expect(r.bytes).toBe(bytes);
    expect(r.probabilities).toBe(into);
    expect([...r.bytes]).toEqual([...picture(640, 480, new Uint8Array(bytes.length))]);
    expect(r.sampleMs).toBeGreaterThanOrEqual(0);
    const reference = await host.predict(picture(640, 480, new Uint8Array(bytes.length)), 3);
    expect([...r.probabilities]).toEqual([...reference.probabilities]);
    expect(r.top).toEqual(reference.top);
    expect(reference.sampleMs).toBeUndefined();
    expect((await host.stats()).predictions).toBe(2);
  });

  it('closes the frame when no model is loaded, or when sampling fails', async () => {
    const host = new EngineHost({
      frameSampler: {
        sample: () => {
          throw new RangeError('sampler failed');
        },
      },
    });
    const f1 = fakeFrame(640, 480);
    await expect(host.predictFrame(asFrame(f1), new Uint8Array(3072))).rejects.toThrow(/no model loaded/);
    expect(f1.closes).toBe(1);
    const m = untrainedDefaultModel();
    await host.load(m.spec, m.params);
    const f2 = fakeFrame(640, 480);
    await expect(host.predictFrame(asFrame(f2), new Uint8Array(3072))).rejects.toThrow('sampler failed');
    expect(f2.closes).toBe(1);
  });
});
