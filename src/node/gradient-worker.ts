// Helper thread of ParallelTrainer: computes the gradients of its share of each batch.
import { parentPort, workerData } from 'node:worker_threads';
import { Trainer } from '../engine/train.ts';
import { createCpuKernels } from '../engine/wasm/load.ts';

const { spec, params, capacity, input, labels, grads, options, wasm } = workerData;
const kernels = wasm ? await createCpuKernels() : null;
const trainer = new Trainer({ spec, params }, capacity, options, kernels);
const inputSize = input.length / capacity;

parentPort!.on('message', (n: number) => {
  if (n === 0) {
    parentPort!.postMessage({ loss: 0, correct: 0 });
    return;
  }
  trainer.net.repack(); // the main thread updated the shared parameters
  trainer.input.set(input.subarray(0, n * inputSize));
  const r = trainer.computeGradients(labels, n);
  grads.set(trainer.grads);
  parentPort!.postMessage(r);
});
