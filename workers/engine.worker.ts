// Entry point of the engine worker: exposes EngineHost (see src/worker-api.ts) over Comlink.
import * as Comlink from 'comlink';
import { EngineHost } from '../src/worker/engine-host.ts';

Comlink.expose(new EngineHost());
