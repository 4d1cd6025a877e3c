// Few-shot transfer to classes the backbone never saw, measured so that no reported figure comes
// from data that informed a choice. Usage (README, "Few-shot features"):
//   npm run eval:transfer -- [--split report|choose] [--shots 5,10,20] [--seeds 5] [--backbones DIR] [--json]
//
// Two folds split CIFAR-10's classes three ways. Each fold's backbone is trained by
// `train-default.ts` with the shipped recipe (every default but --classes) on five classes only;
// two of the other classes are the choice tasks (features, head settings and the backbone recipe
// were chosen on them), the last three the report tasks, looked at for the README only. The report
// classes look unlike their backbone's training classes: vehicles for the animal-trained backbone,
// animals for the one trained on vehicles (and frog).
//
// Every method runs through `cli fewshot` on the same shots: the app's teaching (the default), the
// previous app path (multi-scale readout), and three baselines that use no network.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { main, type CliIO } from './cli.ts';

interface Fold {
  name: string;
  pretrain: number[];
  choose: number[];
  report: number[];
}

const CLASS_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
export const FOLDS: Fold[] = [
  { name: 'animals', pretrain: [2, 3, 4, 5, 7], choose: [0, 6], report: [1, 8, 9] },
  { name: 'vehicles', pretrain: [0, 1, 6, 8, 9], choose: [3, 4], report: [2, 5, 7] },
];

const METHODS: { id: string; args: string[]; needsModel: boolean }[] = [
  { id: 'app', args: [], needsModel: true },
  { id: 'multiscale', args: ['--features', 'multiscale'], needsModel: true },
  { id: 'colour-lr', args: ['--baseline', 'colour-lr'], needsModel: false },
  { id: 'colour', args: ['--baseline', 'colour'], needsModel: false },
  { id: 'pixels', args: ['--baseline', 'pixels'], needsModel: false },
];

const { values } = parseArgs({
  options: {
    split: { type: 'string', default: 'report' },
    shots: { type: 'string', default: '5,10,20' },
    seeds: { type: 'string', default: '5' },
    backbones: { type: 'string', default: 'scripts/tmp/transfer' },
    data: { type: 'string', default: '../shared/data/cifar10-4k' },
    methods: { type: 'string', default: METHODS.map((m) => m.id).join(',') },
    json: { type: 'boolean', default: false },
  },
});
const split = values.split as 'report' | 'choose';
if (split !== 'report' && split !== 'choose') throw new Error(`--split: expected report or choose, got ${values.split}`);
const shotList = values.shots!.split(',').map(Number);
const seeds = Number(values.seeds);
const methods = values.methods!.split(',').map((id) => {
  const m = METHODS.find((x) => x.id === id);
  if (!m) throw new Error(`--methods: unknown method ${id} (expected some of ${METHODS.map((x) => x.id).join(', ')})`);
  return m;
});
const data = resolve(values.data!);
mkdirSync(values.backbones!, { recursive: true });

/** The fold's backbone: trained with the shipped recipe on its five classes (kept for reruns). */
function backbone(fold: Fold): string {
  const file = join(values.backbones!, `${fold.name}.cnn`);
  if (existsSync(file)) return file;
  console.error(`training the ${fold.name} backbone on ${fold.pretrain.map((c) => CLASS_NAMES[c]).join(', ')} → ${file}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/train-default.ts', '--classes', fold.pretrain.join(','), '--data', data, '--out', file], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`training the ${fold.name} backbone failed (exit ${r.status})`);
  return file;
}

async function fewshot(args: string[]): Promise<{ accuracy: number }> {
  let out = '';
  const io: CliIO = { out: (s) => void (out += s), err: () => {} };
  const code = await main(['fewshot', ...args], io);
  if (code !== 0) throw new Error(`cli fewshot ${args.join(' ')} exited with ${code}`);
  return JSON.parse(out);
}

type Table = Record<string, Record<number, number[]>>;
const results: { fold: string; classes: string[]; backbone: string; table: Table }[] = [];
for (const fold of FOLDS) {
  const classes = fold[split];
  const model = backbone(fold);
  const table: Table = {};
  for (const m of methods) {
    table[m.id] = {};
    for (const shots of shotList) {
      table[m.id][shots] = [];
      for (let seed = 1; seed <= seeds; seed++) {
        const args = ['--data', data, '--classes', classes.join(','), '--shots', String(shots), '--seed', String(seed), ...m.args];
        if (m.needsModel) args.push('--model', model);
        table[m.id][shots].push((await fewshot(args)).accuracy);
      }
    }
    console.error(`${fold.name} ${m.id}: ${shotList.map((k) => `${k}-shot ${(mean(table[m.id][k]) * 100).toFixed(1)} %`).join(', ')}`);
  }
  results.push({ fold: fold.name, classes: classes.map((c) => CLASS_NAMES[c]), backbone: model, table });
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Mean over folds of each fold's mean over seeds. */
const overall: Record<string, Record<number, number>> = {};
for (const m of methods) {
  overall[m.id] = {};
  for (const k of shotList) overall[m.id][k] = mean(results.map((r) => mean(r.table[m.id][k])));
}

if (values.json) {
  console.log(JSON.stringify({ split, shots: shotList, seeds, folds: results, mean: overall }, null, 1));
} else {
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  console.log(`${split} tasks, mean of seeds 1–${seeds}: ${results.map((r) => `${r.fold} backbone → ${r.classes.join(', ')}`).join('; ')}\n`);
  console.log(`| method | ${results.map((r) => shotList.map((k) => `${r.fold} ${k}-shot`).join(' | ')).join(' | ')} | mean ${shotList.map((k) => `${k}-shot`).join(' | mean ')} |`);
  console.log(`|---|${results.map(() => shotList.map(() => '---:').join('|')).join('|')}|${shotList.map(() => '---:').join('|')}|`);
  for (const m of methods) {
    console.log(`| ${m.id} | ${results.map((r) => shotList.map((k) => pct(mean(r.table[m.id][k]))).join(' | ')).join(' | ')} | ${shotList.map((k) => `**${pct(overall[m.id][k])}**`).join(' | ')} |`);
  }
}
