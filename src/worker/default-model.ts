// The model the app starts with: models/default.cnn when the app serves one (a trained network in
// the native format), else the classic CIFAR-10 network with parameters from a fixed seed —
// deterministic, runnable and untrained, which the UI must say.
import { classicCifarSpec, decodeModel, initParams, type Model, type ModelMeta } from '../engine/index.ts';

export const UNTRAINED_DEFAULT_SEED = 1;
export const UNTRAINED_DEFAULT_NAME = 'classic CIFAR-10 net (untrained, seed 1)';
/** Path of the default model file, relative to the app's base URL (public/models/default.cnn). */
export const DEFAULT_MODEL_PATH = 'models/default.cnn';

export function untrainedDefaultModel(): Model {
  const spec = classicCifarSpec();
  return { spec, params: initParams(spec, UNTRAINED_DEFAULT_SEED) };
}

export type DefaultModelFile = { found: true; model: Model; meta: ModelMeta } | { found: false; reason: string };

/**
 * Fetches and decodes the default model file. Never throws: a missing file (HTTP 404, or the web
 * page a single-page-app server answers with instead), a network failure or a file that does not
 * decode each give `found: false` with the reason.
 */
export async function fetchDefaultModel(url: string, fetchFn: typeof fetch = fetch): Promise<DefaultModelFile> {
  let response: Response;
  try {
    response = await fetchFn(url);
  } catch (e) {
    return { found: false, reason: `${DEFAULT_MODEL_PATH} could not be fetched (${e instanceof Error ? e.message : String(e)})` };
  }
  if (!response.ok) return { found: false, reason: `no default model file is served (${DEFAULT_MODEL_PATH}: HTTP ${response.status})` };
  if ((response.headers.get('content-type') ?? '').startsWith('text/html')) {
    return { found: false, reason: `no default model file is served (${DEFAULT_MODEL_PATH} answered with a web page)` };
  }
  try {
    const bytes = new Uint8Array(await response.arrayBuffer());
    return { found: true, ...decodeModel(bytes) };
  } catch (e) {
    return { found: false, reason: `${DEFAULT_MODEL_PATH} could not be read: ${e instanceof Error ? e.message : String(e)}` };
  }
}
