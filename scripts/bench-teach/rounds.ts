// The teaching benchmark's workloads and timing rounds, shared by its page (scripts/bench-teach/
// page.ts: engine workers through Comlink) and its Node reference (scripts/bench-teach.ts:
// EngineHost called directly). Pure apart from the clock: no DOM, no Node modules.
import { Random } from '../../src/engine/random.ts';
import type { TeachClass, TeachExample, TeachProgress, TeachResult } from '../../src/worker-api.ts';

/** A labelled image set: `count` H×W×C images back to back, one label byte each. */
export interface TeachDataset {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  imageSize: number;
  classNames: readonly string[];
}

/** classes × perClass examples, taken from the dataset's first `classes` classes. */
export interface TeachWorkload {
  classes: number;
  perClass: number;
}

export const WORKLOADS: readonly TeachWorkload[] = [
  { classes: 5, perClass: 20 },
  { classes: 10, perClass: 100 },
];

export const workloadName = (w: TeachWorkload) => `${w.classes}×${w.perClass}`;

/**
 * The examples of one round: `perClass` images of each of the first `classes` classes, chosen by
 * Random(seed · 1000 + round) (a different choice each round). Ids name the workload, the round and
 * the image (`5x20-r<round>-<index>`), so a round's examples are new to a worker's feature cache; bytes are
 * copies, as the app's stored examples are (a view into the dataset would send all of it).
 */
export function pickExamples(data: TeachDataset, w: TeachWorkload, round: number, seed: number): { classes: TeachClass[]; examples: TeachExample[] } {
  if (w.classes > data.classNames.length) throw new Error(`workload ${workloadName(w)}: the dataset has ${data.classNames.length} classes`);
  const byClass: number[][] = Array.from({ length: w.classes }, () => []);
  for (let i = 0; i < data.count; i++) if (data.labels[i] < w.classes) byClass[data.labels[i]].push(i);
  const rng = new Random(seed * 1000 + round);
  const classes: TeachClass[] = [];
  const examples: TeachExample[] = [];
  byClass.forEach((list, k) => {
    if (list.length < w.perClass) {
      throw new Error(`workload ${workloadName(w)}: class ${k} (${data.classNames[k]}) has ${list.length} images, fewer than ${w.perClass}`);
    }
    classes.push({ id: `class-${k}`, name: data.classNames[k] });
    for (const i of rng.shuffle(list).slice(0, w.perClass)) {
      examples.push({ id: `${w.classes}x${w.perClass}-r${round}-${i}`, classId: `class-${k}`, bytes: data.images.slice(i * data.imageSize, (i + 1) * data.imageSize) });
    }
  });
  return { classes, examples };
}

/** One way of reaching a training: an engine worker through Comlink, or EngineHost in Node. */
export interface Trainer<Id extends string = string> {
  id: Id;
  train(classes: TeachClass[], examples: TeachExample[], onProgress: (p: TeachProgress) => void): Promise<TeachResult>;
}

export interface TeachSample {
  trainer: string;
  workload: string;
  /** 'fresh': examples new to the worker (features computed); 'cached': the same ones again. */
  mode: 'fresh' | 'cached';
  round: number;
  /** From calling train to holding its result, on the caller's side. */
  end_to_end_ms: number;
  /** The worker's split (TeachResult): feature extraction, head training, its whole call. */
  feature_ms: number;
  train_ms: number;
  total_ms: number;
  /**
   * end_to_end_ms − total_ms: after the worker's training, building a session for the taught
   * model on the backend (on WebGL2 its shaders) and encoding its file, plus the messages.
   */
  install_ms: number;
  /** Examples whose features were computed in this call. */
  computed: number;
  epochs: number;
  progress_messages: number;
  /** Of the trained head on its held-out fifth (null without one). */
  validation_accuracy: number | null;
}

/** Trains once and times it; throws if the worker's feature cache did not behave as `mode` says. */
export async function timeTraining(t: Trainer, data: TeachDataset, w: TeachWorkload, round: number, seed: number, mode: TeachSample['mode']): Promise<TeachSample> {
  const { classes, examples } = pickExamples(data, w, round, seed);
  let progress = 0;
  const started = performance.now();
  const r = await t.train(classes, examples, () => void progress++);
  const end_to_end_ms = performance.now() - started;
  const expected = mode === 'fresh' ? examples.length : 0;
  if (r.computed.length !== expected) {
    throw new Error(`${t.id}, ${workloadName(w)} round ${round} (${mode}): features computed for ${r.computed.length} of ${examples.length} examples, expected ${expected}`);
  }
  return {
    trainer: t.id,
    workload: workloadName(w),
    mode,
    round,
    end_to_end_ms,
    feature_ms: r.featureMs,
    train_ms: r.trainMs,
    total_ms: r.totalMs,
    install_ms: end_to_end_ms - r.totalMs,
    computed: r.computed.length,
    epochs: r.epochs,
    progress_messages: progress,
    validation_accuracy: r.validationAccuracy,
  };
}

export interface RoundsOptions {
  data: TeachDataset;
  /** Rounds per workload (in WORKLOADS order) for each trainer id. */
  repeats: Readonly<Record<string, readonly number[]>>;
  seed: number;
  log?: (line: string) => void;
}

/**
 * For each workload, rounds; in each round every trainer that has rounds left (taking turns in a
 * rotating order, so a change in machine load touches each alike) trains on the round's new
 * examples, then at once again on the same ones (features from its cache).
 */
export async function runRounds(trainers: readonly Trainer[], options: RoundsOptions): Promise<TeachSample[]> {
  const samples: TeachSample[] = [];
  for (const [wi, w] of WORKLOADS.entries()) {
    const roundsOf = (t: Trainer) => options.repeats[t.id]?.[wi] ?? 0;
    const most = Math.max(0, ...trainers.map(roundsOf));
    for (let r = 0; r < most; r++) {
      for (let j = 0; j < trainers.length; j++) {
        const t = trainers[(r + j) % trainers.length];
        const rounds = roundsOf(t);
        if (r >= rounds) continue;
        const fresh = await timeTraining(t, options.data, w, r, options.seed, 'fresh');
        const cached = await timeTraining(t, options.data, w, r, options.seed, 'cached');
        samples.push(fresh, cached);
        options.log?.(
          `  ${t.id} ${workloadName(w)} round ${r + 1}/${rounds}: ${fresh.end_to_end_ms.toFixed(0)} ms ` +
            `(features ${fresh.feature_ms.toFixed(0)}, training ${fresh.train_ms.toFixed(0)}), cached ${cached.end_to_end_ms.toFixed(0)} ms`,
        );
      }
    }
  }
  return samples;
}
