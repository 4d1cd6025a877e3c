// Entry point of the engine worker: exposes EngineHost (see src/worker-api.ts) over Comlink.
import * as Comlink from 'comlink';
import { DEFAULT_MODEL_PATH } from '../src/worker/default-model.ts';
import { EngineHost } from '../src/worker/engine-host.ts';

const base = new URL(import.meta.env.BASE_URL, self.location.href);
Comlink.expose(new EngineHost({ defaultModelUrl: new URL(DEFAULT_MODEL_PATH, base).href }));
