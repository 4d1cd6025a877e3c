// The user's settings, remembered in localStorage: backend choice, camera choice and the
// "none of these" confidence threshold. Anything
// stored that is not understood is replaced by the default rather than trusted.
import type { CameraChoice, Facing } from '../camera/camera.ts';
import { BACKEND_CHOICES, type BackendChoice } from '../worker-api.ts';

export interface Settings {
  backend: BackendChoice;
  camera: CameraChoice;
  /** Whether the camera was running when the app was last used (it restarts on the next visit). */
  cameraOn: boolean;
  /**
   * Below this smoothed top probability (0..1) the app says "none of these" instead of naming a
   * class; 0 turns it off.
   */
  noneThreshold: number;
}

/** The highest "none of these" threshold the settings offer. */
export const MAX_NONE_THRESHOLD = 0.95;

export const SETTINGS_KEY = 'edge-classifier.settings.v1';

export function defaultSettings(): Settings {
  return { backend: 'auto', camera: { kind: 'facing', facing: 'user' }, cameraOn: false, noneThreshold: 0.5 };
}

function parseCamera(value: unknown): CameraChoice | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (v.kind === 'facing' && (v.facing === 'user' || v.facing === 'environment')) return { kind: 'facing', facing: v.facing as Facing };
  if (v.kind === 'device' && typeof v.deviceId === 'string' && v.deviceId !== '') return { kind: 'device', deviceId: v.deviceId };
  return null;
}

export function parseSettings(text: string | null): Settings {
  const settings = defaultSettings();
  if (!text) return settings;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return settings;
  }
  if (typeof raw !== 'object' || raw === null) return settings;
  const r = raw as Record<string, unknown>;
  if (BACKEND_CHOICES.includes(r.backend as BackendChoice)) settings.backend = r.backend as BackendChoice;
  settings.camera = parseCamera(r.camera) ?? settings.camera;
  if (typeof r.cameraOn === 'boolean') settings.cameraOn = r.cameraOn;
  const t = r.noneThreshold;
  if (typeof t === 'number' && Number.isFinite(t) && t >= 0 && t <= MAX_NONE_THRESHOLD) settings.noneThreshold = t;
  return settings;
}

/** Storage can be missing or refuse (private modes, quota); settings then last for the visit. */
export function loadSettings(): Settings {
  try {
    return parseSettings(localStorage.getItem(SETTINGS_KEY));
  } catch {
    return defaultSettings();
  }
}

export function saveSettings(settings: Settings): void {
  try {
    localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
  } catch {
    // Not remembered; the app works the same.
  }
}
