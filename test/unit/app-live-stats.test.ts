// The live view's numbers: time-weighted smoothing of probabilities, answers per second, the
// screen-reader throttle, remembered settings and the canvas reduction plan of the sampler.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AnnouncementThrottle, ProbabilitySmoother, RateMeter } from '../../src/app/live-stats.ts';
import { defaultSettings, parseSettings } from '../../src/app/settings.ts';
import { centerSquare, reductionSteps } from '../../src/camera/square-sampler.ts';

describe('ProbabilitySmoother', () => {
  it('takes the first frame as is, then moves 1 − e^(−Δt/τ) of the way to each new frame', () => {
    const s = new ProbabilitySmoother(2, 100);
    expect(s.best()).toBe(-1);
    s.update(Float32Array.of(1, 0), 0);
    expect(Array.from(s.values)).toEqual([1, 0]);
    s.update(Float32Array.of(0, 1), 100);
    const a = 1 - Math.exp(-1);
    expect(s.values[0]).toBeCloseTo(1 - a, 6);
    expect(s.values[1]).toBeCloseTo(a, 6);
    expect(s.best()).toBe(1); // 0.632 > 0.368
  });

  it('smooths the same at any frame rate: ten 10 ms steps equal one 100 ms step', () => {
    const fast = new ProbabilitySmoother(2, 100);
    const slow = new ProbabilitySmoother(2, 100);
    fast.update(Float32Array.of(1, 0), 0);
    slow.update(Float32Array.of(1, 0), 0);
    for (let t = 10; t <= 100; t += 10) fast.update(Float32Array.of(0, 1), t);
    slow.update(Float32Array.of(0, 1), 100);
    expect(fast.values[1]).toBeCloseTo(slow.values[1], 5);
  });

  it('names a length mismatch', () => {
    expect(() => new ProbabilitySmoother(3).update(new Float32Array(2), 0)).toThrow('2 probabilities for 3 classes');
  });
});

describe('RateMeter', () => {
  it('counts events in the last second', () => {
    const m = new RateMeter(1000);
    expect(m.rate(0)).toBe(0);
    for (let t = 0; t <= 1000; t += 50) m.tick(t); // 20 per second
    expect(m.rate(1000)).toBeCloseTo(20, 6);
    // Two seconds later nothing is left in the window.
    expect(m.rate(3000)).toBe(0);
  });
});

describe('AnnouncementThrottle', () => {
  afterEach(() => vi.useRealTimers());

  it('says a change at once, repeats nothing, and holds changes inside the interval until it ends', () => {
    vi.useFakeTimers();
    let now = 0;
    const said: string[] = [];
    const t = new AnnouncementThrottle((text) => said.push(text), 3000, () => now);
    t.propose('cat');
    t.propose('cat');
    expect(said).toEqual(['cat']);
    now = 1000;
    t.propose('dog');
    t.propose('ship'); // the newest wins
    expect(said).toEqual(['cat']);
    now = 3000;
    vi.advanceTimersByTime(2000);
    expect(said).toEqual(['cat', 'ship']);
    // A change back inside the next interval that has reverted by its end is not said.
    now = 4000;
    t.propose('cat');
    t.propose('ship');
    now = 6000;
    vi.advanceTimersByTime(2000);
    expect(said).toEqual(['cat', 'ship']);
  });
});

describe('settings', () => {
  it('reads what it wrote and replaces anything it does not understand by the default', () => {
    const s = { backend: 'cpu', camera: { kind: 'device', deviceId: 'abc' }, cameraOn: true, noneThreshold: 0.3 };
    expect(parseSettings(JSON.stringify(s))).toEqual(s);
    expect(parseSettings(null)).toEqual(defaultSettings());
    expect(parseSettings('{not json')).toEqual(defaultSettings());
    expect(parseSettings(JSON.stringify({ backend: 'gpu', camera: { kind: 'device', deviceId: '' }, cameraOn: 'yes' }))).toEqual(defaultSettings());
    expect(parseSettings(JSON.stringify({ camera: { kind: 'facing', facing: 'environment' } })).camera).toEqual({ kind: 'facing', facing: 'environment' });
    for (const bad of [-0.1, 0.99, Number.NaN, '0.4', null]) expect(parseSettings(JSON.stringify({ noneThreshold: bad })).noneThreshold).toBe(defaultSettings().noneThreshold);
    expect(parseSettings(JSON.stringify({ noneThreshold: 0 })).noneThreshold).toBe(0);
  });
});

describe('SquareSampler geometry', () => {
  it('crops the centred square as centerCropResize does', () => {
    expect(centerSquare(640, 480)).toEqual({ x: 80, y: 0, side: 480 });
    expect(centerSquare(33, 40)).toEqual({ x: 0, y: 3, side: 33 });
  });

  it('copies small crops pixel for pixel, halves large ones to at most 2 × 128, then draws at 128', () => {
    expect(reductionSteps(32)).toEqual([32]);
    expect(reductionSteps(128)).toEqual([128]);
    expect(reductionSteps(200)).toEqual([128]);
    expect(reductionSteps(480)).toEqual([240, 128]);
    expect(reductionSteps(720)).toEqual([360, 180, 128]);
    expect(reductionSteps(3024)).toEqual([1512, 756, 378, 189, 128]);
    expect(() => reductionSteps(0)).toThrow('crop side 0');
  });
});
