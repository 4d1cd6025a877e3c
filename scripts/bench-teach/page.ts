// The teaching benchmark's page (bundled and served by scripts/bench-teach.ts). It starts one
// engine worker per backend — the app's own entry point, workers/engine.worker.ts — talks to it
// through Comlink as the app does (src/app/engine-client.ts), loads the default model with
// loadDefault(backend), and times train() from the call to the answer (scripts/bench-teach/rounds.ts).
import * as Comlink from 'comlink';
import type { BackendName } from '../../src/engine/index.ts';
import type { EngineApi } from '../../src/worker-api.ts';
import { runRounds, timeTraining, WORKLOADS, type TeachDataset, type TeachSample, type Trainer } from './rounds.ts';

export type BrowserTeachBackend = 'cpu' | 'webgl';

export interface PageArgs {
  backends: BrowserTeachBackend[];
  /** Rounds per workload (WORKLOADS order) for each backend. */
  repeats: Record<string, number[]>;
  seed: number;
}

export interface PageBackend {
  /** What serves the worker's frames and computes features after loadDefault. */
  backend: BackendName;
  reason: string;
  model: string;
  /** loadDefault(backend) through Comlink: fetch, decode, build the session, warm up. */
  load_ms: number;
  /** The worker's first training (5×20, new examples): includes compiling the training code paths. */
  first: TeachSample;
}

export interface PageResult {
  crossOriginIsolated: boolean;
  backends: Record<string, PageBackend>;
  samples: TeachSample[];
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function loadDataset(): Promise<TeachDataset> {
  const [images, labels, meta] = await Promise.all([
    fetchBytes('/data/images.u8'),
    fetchBytes('/data/labels.u8'),
    fetch('/data/meta.json').then((r) => r.json() as Promise<{ count: number; height: number; width: number; channels: number; classes: string[] }>),
  ]);
  const imageSize = meta.height * meta.width * meta.channels;
  if (images.length !== meta.count * imageSize || labels.length !== meta.count) {
    throw new Error(`dataset: ${images.length} image bytes and ${labels.length} labels for ${meta.count} images of ${imageSize} bytes`);
  }
  return { images, labels, count: meta.count, imageSize, classNames: meta.classes };
}

async function run(args: PageArgs): Promise<PageResult> {
  const data = await loadDataset();
  const workers: Worker[] = [];
  try {
    const backends: Record<string, PageBackend> = {};
    const trainers: Trainer[] = [];
    for (const choice of args.backends) {
      const worker = new Worker('/engine.worker.js', { type: 'module' });
      workers.push(worker);
      const api = Comlink.wrap<EngineApi>(worker);
      const started = performance.now();
      const info = await api.loadDefault(choice);
      const load_ms = performance.now() - started;
      if (info.backend !== choice) throw new Error(`loadDefault('${choice}') serves on ${info.backend}: ${info.backendReason}`);
      if (info.model?.source !== 'default-file') throw new Error(`loadDefault('${choice}'): no default model file (${info.model?.fallbackReason})`);
      const trainer: Trainer = {
        id: choice,
        train: (classes, examples, onProgress) => api.train(classes, examples, Comlink.proxy(onProgress)),
      };
      const first = await timeTraining(trainer, data, WORKLOADS[0], -1, args.seed, 'fresh');
      console.log(`${choice}: default model loaded in ${load_ms.toFixed(0)} ms, first training ${first.end_to_end_ms.toFixed(0)} ms`);
      backends[choice] = { backend: info.backend, reason: info.backendReason, model: info.model.name, load_ms, first };
      trainers.push(trainer);
    }
    const samples = await runRounds(trainers, { data, repeats: args.repeats, seed: args.seed, log: (line) => console.log(line) });
    return { crossOriginIsolated: globalThis.crossOriginIsolated === true, backends, samples };
  } finally {
    for (const w of workers) w.terminate();
  }
}

(globalThis as unknown as { runTeachBench: typeof run }).runTeachBench = run;
