// The worker's EngineHost in Node: which default model it loads (the served file, else the
// untrained built-in network, saying why), and predict against the engine called directly.
import { describe, expect, it } from 'vitest';
import { classicCifarSpec, CpuSession, encodeModel, initParams } from '../../src/engine/index.ts';
import { UNTRAINED_DEFAULT_NAME, untrainedDefaultModel } from '../../src/worker/default-model.ts';
import { EngineHost, topK } from '../../src/worker/engine-host.ts';

const URL_ = 'http://app.test/models/default.cnn';

function fakeFetch(respond: () => Response): typeof fetch {
  return (async () => respond()) as unknown as typeof fetch;
}

/** The host's CPU session may use the WebAssembly kernels: equal to the TypeScript ones to rounding. */
function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tolerance = 1e-5): void {
  expect(got.length).toBe(want.length);
  let max = 0;
  for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(got[i] - want[i]));
  expect(max, `max abs difference ${max}`).toBeLessThanOrEqual(tolerance);
}

function image(seed: number): Uint8Array {
  return Uint8Array.from({ length: 32 * 32 * 3 }, (_, i) => (i * 31 + seed * 17 + ((i * i) % 13)) & 255);
}

describe('EngineHost.loadDefault', () => {
  it('loads the served model file, trained and named as the file says', async () => {
    const spec = classicCifarSpec(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j']);
    const model = { spec, params: initParams(spec, 7) };
    const file = encodeModel(model, { name: 'test net' });
    const host = new EngineHost({ defaultModelUrl: URL_, fetch: fakeFetch(() => new Response(new Uint8Array(file), { headers: { 'content-type': 'application/octet-stream' } })) });
    const info = await host.loadDefault('auto');
    expect(info.model).toMatchObject({ name: 'test net', trained: true, source: 'default-file', fallbackReason: null, labels: spec.labels });
    // No WebGL in Node: 'auto' serves from the CPU.
    expect(info.backend).toBe('cpu');

    const x = image(1);
    const expected = new CpuSession(model).predict(x).slice();
    const into = new Float32Array(10);
    const p = await host.predict(x.slice(), 3, into);
    expect(p.probabilities).toBe(into);
    expectClose(p.probabilities, expected);
    expect(p.top.map((t) => t.index)).toEqual(
      Array.from(expected.keys())
        .sort((i, j) => expected[j] - expected[i] || i - j)
        .slice(0, 3),
    );
    expect(p.inferenceMs).toBeGreaterThanOrEqual(0);
    expect(await host.stats()).toMatchObject({ predictions: 1 });
  });

  for (const [what, respond, reason] of [
    ['a 404', () => new Response('not found', { status: 404 }), 'HTTP 404'],
    ['a web page (single-page-app fallback)', () => new Response('<!doctype html>', { headers: { 'content-type': 'text/html' } }), 'answered with a web page'],
    ['a corrupt file', () => new Response(new Uint8Array(40)), 'could not be read: not a model file'],
    [
      'a network failure',
      () => {
        throw new TypeError('Failed to fetch');
      },
      'could not be fetched (Failed to fetch)',
    ],
  ] as const) {
    it(`falls back to the untrained built-in network on ${what}, and says why`, async () => {
      const host = new EngineHost({ defaultModelUrl: URL_, fetch: fakeFetch(respond) });
      const info = await host.loadDefault();
      expect(info.model).toMatchObject({ name: UNTRAINED_DEFAULT_NAME, trained: false, source: 'built-in' });
      expect(info.model?.fallbackReason).toContain(reason);
      const x = image(2);
      const expected = new CpuSession(untrainedDefaultModel()).predict(x);
      expectClose((await host.predict(x)).probabilities, expected);
    });
  }

  it("asked for WebGL2 where there is none: serves from the CPU at load and says so; setBackend('webgl') rejects and keeps the session", async () => {
    const host = new EngineHost();
    const info = await host.loadDefault('webgl');
    expect(info.backend).toBe('cpu');
    expect(info.backendChoice).toBe('webgl');
    expect(info.backendReason).toContain('WebGL2 was requested but cannot be used here');
    await expect(host.setBackend('webgl')).rejects.toThrow();
    expect((await host.setBackend('cpu')).backendReason).toBe('CPU backend requested');
    expect((await host.predict(image(3))).backend).toBe('cpu');
  });

  it('predict before a model is loaded names the problem', async () => {
    await expect(new EngineHost().predict(image(0))).rejects.toThrow('no model loaded');
  });
});

describe('topK', () => {
  it('returns the k largest, largest first, lower index first on ties', () => {
    const top = topK(Float32Array.of(0.1, 0.4, 0.1, 0.4), ['a', 'b', 'c', 'd'], 3);
    expect(top.map((t) => t.label)).toEqual(['b', 'd', 'a']);
    expect(topK(Float32Array.of(0.5, 0.5), ['a', 'b'], 5)).toHaveLength(2);
  });
});

describe('EngineHost.loadFile', () => {
  it('serves a .cnn file with its labels and name; a damaged file is refused and the current model keeps serving', async () => {
    const host = new EngineHost();
    const base = untrainedDefaultModel();
    await host.load(base.spec, base.params, { name: 'first' });
    const x = image(3);
    const before = (await host.predict(x.slice(), 1)).probabilities.slice();

    const spec = { ...classicCifarSpec(['cup', 'pen']) };
    const model = { spec, params: initParams(spec, 11) };
    const file = encodeModel(model, { name: 'desk things' });
    const damaged = file.slice();
    damaged[damaged.length - 40] ^= 0xff;
    await expect(host.loadFile(damaged)).rejects.toThrow(/checksum|not|model file/);
    expect((await host.info()).model?.name).toBe('first');
    expectClose((await host.predict(x.slice(), 1)).probabilities, before);

    const summary = await host.loadFile(file, { source: 'trained' });
    expect(summary).toMatchObject({ name: 'desk things', labels: ['cup', 'pen'], source: 'trained', trained: true });
    const p = await host.predict(x.slice(), 2);
    expectClose(p.probabilities, new CpuSession(model).predict(x));
  });
});

describe("EngineHost under 'auto'", () => {
  it('keeps the automatic backend decision for files and taught models instead of deciding again; setBackend decides anew', async () => {
    const host = new EngineHost();
    await host.loadDefault('auto');
    const first = await host.info();
    expect(first.backendChoice).toBe('auto');
    const spec = classicCifarSpec(['cup', 'pen']);
    await host.loadFile(encodeModel({ spec, params: initParams(spec, 2) }));
    const kept = await host.info();
    expect(kept.backend).toBe(first.backend);
    expect(kept.backendReason).toBe(`automatic choice kept from the last model load: ${first.backendReason}`);
    await host.setBackend('auto');
    expect((await host.info()).backendReason).toBe(first.backendReason);
  });
});
