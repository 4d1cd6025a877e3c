// Opening a camera into a <video> element, and saying in plain words what went wrong when it
// cannot be opened or stops. The page stays usable without a camera (photos), so every failure
// ends as a CameraProblem the UI shows, never as an exception the user sees raw.

export type Facing = 'user' | 'environment';

/** Which camera to open: by facing direction (phones), or one device from the list. */
export type CameraChoice = { kind: 'facing'; facing: Facing } | { kind: 'device'; deviceId: string };

export interface CameraDevice {
  deviceId: string;
  /** Empty until the user has allowed camera access once (browsers hide labels before that). */
  label: string;
}

export type CameraProblemKind = 'denied' | 'absent' | 'busy' | 'insecure' | 'unsupported' | 'ended' | 'failed';

export interface CameraProblem {
  kind: CameraProblemKind;
  /** What happened. */
  message: string;
  /** What the user can do about it. */
  advice: string;
}

export interface OpenCamera {
  stream: MediaStream;
  track: MediaStreamTrack;
  /** The device opened (from the track), so a choice by facing can be remembered as a device. */
  deviceId: string | null;
  label: string;
  /** Facing as the device reports it, else as requested; a front camera's preview is mirrored. */
  facing: Facing;
  width: number;
  height: number;
}

/** The stream asked for: enough pixels for a sharp centre crop, no more (640×480 is common to all). */
const IDEAL_SIZE = { width: { ideal: 640 }, height: { ideal: 480 } };

const PHOTOS_STILL_WORK = 'You can still classify photos below.';

export function describeCameraError(error: unknown): CameraProblem {
  const name = error instanceof Error || error instanceof DOMException ? error.name : '';
  const detail = error instanceof Error || error instanceof DOMException ? error.message : String(error);
  switch (name) {
    case 'NotAllowedError':
    case 'PermissionDeniedError':
      return {
        kind: 'denied',
        message: 'Camera access was blocked.',
        advice: `To use the live camera, allow camera access for this site (the camera or lock icon in the address bar, or the browser's site settings), then press Start camera. ${PHOTOS_STILL_WORK}`,
      };
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return {
        kind: 'absent',
        message: 'No camera was found.',
        advice: `Connect a camera (or check that it is switched on) and press Start camera. ${PHOTOS_STILL_WORK}`,
      };
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return {
        kind: 'busy',
        message: 'The camera could not be started: another app may be using it.',
        advice: `Close other apps or tabs that use the camera, then press Start camera. ${PHOTOS_STILL_WORK}`,
      };
    case 'SecurityError':
      return {
        kind: 'insecure',
        message: 'The browser does not allow camera access on this page.',
        advice: `Cameras work only on pages served over https (or from localhost). ${PHOTOS_STILL_WORK}`,
      };
    default:
      return {
        kind: 'failed',
        message: `The camera could not be started (${name ? `${name}: ` : ''}${detail}).`,
        advice: `Try Start camera again, or pick another camera in Settings. ${PHOTOS_STILL_WORK}`,
      };
  }
}

export function cameraEndedProblem(): CameraProblem {
  return {
    kind: 'ended',
    message: 'The camera stopped sending video: it was unplugged, switched off or taken over by another app.',
    advice: `Reconnect it (or close the other app) and press Start camera. ${PHOTOS_STILL_WORK}`,
  };
}

export function cameraUnsupportedProblem(): CameraProblem {
  const secure = typeof isSecureContext === 'boolean' ? isSecureContext : true;
  return secure
    ? {
        kind: 'unsupported',
        message: 'This browser gives web pages no camera access.',
        advice: `Open the app in a current browser to use the live camera. ${PHOTOS_STILL_WORK}`,
      }
    : {
        kind: 'insecure',
        message: 'Camera access needs a secure page.',
        advice: `Open the app over https (or from localhost) to use the live camera. ${PHOTOS_STILL_WORK}`,
      };
}

export function cameraSupported(): boolean {
  return typeof navigator !== 'undefined' && typeof navigator.mediaDevices?.getUserMedia === 'function';
}

/** The video inputs; labels are empty before camera access has been allowed. */
export async function listCameras(): Promise<CameraDevice[]> {
  if (typeof navigator.mediaDevices?.enumerateDevices !== 'function') return [];
  const devices = await navigator.mediaDevices.enumerateDevices();
  return devices.filter((d) => d.kind === 'videoinput' && d.deviceId !== '').map((d) => ({ deviceId: d.deviceId, label: d.label }));
}

function constraintsFor(choice: CameraChoice): MediaStreamConstraints {
  const video: MediaTrackConstraints =
    choice.kind === 'device' ? { deviceId: { exact: choice.deviceId }, ...IDEAL_SIZE } : { facingMode: { ideal: choice.facing }, ...IDEAL_SIZE };
  return { video, audio: false };
}

/**
 * Opens the chosen camera and plays it in `video` (muted, inline). A remembered device that is
 * gone (unplugged since) falls back to the front camera. Rejects with what getUserMedia or
 * play() threw; describeCameraError turns that into words.
 */
export async function openCamera(video: HTMLVideoElement, choice: CameraChoice): Promise<OpenCamera> {
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getUserMedia(constraintsFor(choice));
  } catch (e) {
    const name = e instanceof DOMException || e instanceof Error ? e.name : '';
    if (choice.kind !== 'device' || (name !== 'OverconstrainedError' && name !== 'NotFoundError')) throw e;
    stream = await navigator.mediaDevices.getUserMedia(constraintsFor({ kind: 'facing', facing: 'user' }));
  }
  const track = stream.getVideoTracks()[0];
  if (!track) {
    for (const t of stream.getTracks()) t.stop();
    throw new DOMException('the stream has no video track', 'NotFoundError');
  }
  video.muted = true;
  video.playsInline = true;
  video.srcObject = stream;
  try {
    if (video.readyState < HTMLMediaElement.HAVE_METADATA) {
      await new Promise<void>((resolve, reject) => {
        video.addEventListener('loadedmetadata', () => resolve(), { once: true });
        video.addEventListener('error', () => reject(video.error ?? new Error('the video element could not play the camera stream')), { once: true });
      });
    }
    await video.play();
  } catch (e) {
    closeCamera(video, stream);
    throw e;
  }
  const settings = track.getSettings();
  const requested: Facing = choice.kind === 'facing' ? choice.facing : 'user';
  const facing: Facing = settings.facingMode === 'environment' || settings.facingMode === 'user' ? settings.facingMode : requested;
  return {
    stream,
    track,
    deviceId: settings.deviceId ?? null,
    label: track.label,
    facing,
    width: video.videoWidth,
    height: video.videoHeight,
  };
}

export function closeCamera(video: HTMLVideoElement | null, stream: MediaStream | null): void {
  if (stream) for (const t of stream.getTracks()) t.stop();
  if (video && video.srcObject === stream) {
    video.pause();
    video.srcObject = null;
  }
}
