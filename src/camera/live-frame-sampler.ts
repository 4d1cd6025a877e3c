// The page's half of live-frame sampling, for the FramePump: how the frame on screen becomes the
// network's input without the page reading its pixels.
//
// Reading a camera frame's pixels on the page (drawImage(video) onto a canvas, then getImageData)
// costs the main thread tens of milliseconds per frame where the video frame lives on the GPU
// (35–45 ms median in headless Chromium on software GL), while `new VideoFrame(video)` is a handle
// to the same frame and costs next to nothing. So where VideoFrame exists ('worker' mode) the page
// only makes that handle and transfers it to the engine worker with the input and probability
// buffers; the worker reduces it with the same SquareSampler the page uses for photos (see
// video-frame-sampler.ts) and sends the input bytes back in result.bytes. Elsewhere ('page' mode,
// and from the first frame on if the worker says it cannot reduce frames) the page samples with
// its SquareSampler as before and sends the bytes.
//
// Per frame, 'worker' mode allocates what the APIs force: one VideoFrame object (closed in the
// worker) and Comlink's message and promise; the pixel buffers are the pump's two, reused.
import * as Comlink from 'comlink';
import type { EngineApi, Prediction } from '../worker-api.ts';
import type { SquareSampler } from './square-sampler.ts';

export type LiveSamplingMode = 'worker' | 'page';

/** The two ways to get an answer for a frame; workerFrameSink makes one from the worker's API. */
export interface FrameSink {
  /** Transfers the bytes and `into`; result.bytes and result.probabilities carry them back. */
  predict(bytes: Uint8Array, k: number, into: Float32Array, maps?: Float32Array): Promise<Prediction>;
  /** Transfers the frame (closing it here) and both buffers (three with maps, see Prediction.maps). */
  predictFrame(frame: VideoFrame, bytes: Uint8Array, k: number, into: Float32Array, maps?: Float32Array): Promise<Prediction>;
}

export function workerFrameSink(api: Comlink.Remote<EngineApi>): FrameSink {
  return {
    predict: (bytes, k, into, maps) =>
      api.predict(Comlink.transfer(bytes, [bytes.buffer]), k, Comlink.transfer(into, [into.buffer]), maps ? Comlink.transfer(maps, [maps.buffer]) : undefined),
    predictFrame: (frame, bytes, k, into, maps) =>
      api.predictFrame(
        Comlink.transfer(frame, [frame]),
        Comlink.transfer(bytes, [bytes.buffer]),
        k,
        Comlink.transfer(into, [into.buffer]),
        maps ? Comlink.transfer(maps, [maps.buffer]) : undefined,
      ),
  };
}

/** VideoFrame where the page has it (worker mode), else page sampling. */
export function defaultSamplingMode(): LiveSamplingMode {
  return typeof VideoFrame === 'function' ? 'worker' : 'page';
}

const HAVE_CURRENT_DATA = 2;

export interface LiveFrameSamplerOptions {
  mode?: LiveSamplingMode;
  /** Makes the frame handle; default `new VideoFrame(video)`. */
  grab?: (video: HTMLVideoElement) => VideoFrame;
}

export class LiveFrameSampler {
  mode: LiveSamplingMode;
  /** Why the sampler left 'worker' mode, or null. */
  fallbackReason: string | null = null;
  /** The frame taken by sample() and not yet sent (null between frames). */
  private frame: VideoFrame | null = null;
  private readonly grab: (video: HTMLVideoElement) => VideoFrame;

  constructor(
    private readonly video: HTMLVideoElement,
    private readonly pageSampler: Pick<SquareSampler, 'sample'>,
    private readonly sink: FrameSink,
    options: LiveFrameSamplerOptions = {},
  ) {
    this.mode = options.mode ?? defaultSamplingMode();
    this.grab = options.grab ?? ((v) => new VideoFrame(v));
  }

  /**
   * FramePump's sample step. 'worker' mode takes a VideoFrame of the frame on screen and leaves
   * `into` for the worker to fill; 'page' mode writes the frame's input bytes into `into` now.
   * False when the video has no frame yet.
   */
  sample(into: Uint8Array): boolean {
    const { video } = this;
    if (video.readyState < HAVE_CURRENT_DATA || video.videoWidth === 0 || video.videoHeight === 0) return false;
    this.dropFrame();
    if (this.mode === 'worker') {
      try {
        this.frame = this.grab(video);
        return true;
      } catch {
        // No frame to wrap at this instant (the element is between frames or sources): sample on
        // the page this once, which reads whatever the element shows.
      }
    }
    this.pageSampler.sample(video, video.videoWidth, video.videoHeight, into);
    return true;
  }

  /** FramePump's send step: the frame taken by sample() when there is one, else the bytes. */
  send(bytes: Uint8Array, probabilities: Float32Array, k: number, maps?: Float32Array): Promise<Prediction> {
    const frame = this.frame;
    this.frame = null;
    if (!frame) return this.sink.predict(bytes, k, probabilities, maps);
    const size = bytes.length;
    const classes = probabilities.length;
    let answer: Promise<Prediction>;
    try {
      answer = this.sink.predictFrame(frame, bytes, k, probabilities, maps);
    } finally {
      // Transferred frames are closed already; one the call failed to post is closed here.
      frame.close();
    }
    return answer.catch((error: unknown) => {
      if (!(error instanceof Error && error.name === 'FrameSamplingError')) throw error;
      // The worker cannot reduce frames: sample on the page from now on, starting with the frame on
      // screen now. The two buffers went to the worker with the failed call; this once, new ones.
      this.mode = 'page';
      this.fallbackReason = error.message;
      const fresh = new Uint8Array(size);
      if (!this.sample(fresh)) throw error;
      return this.sink.predict(fresh, k, new Float32Array(classes));
    });
  }

  /** Closes a frame taken but not sent (the pump stopped between the two steps, or sample ran twice). */
  dropFrame(): void {
    this.frame?.close();
    this.frame = null;
  }
}
