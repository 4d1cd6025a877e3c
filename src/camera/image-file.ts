// Decoding a picked or dropped image file for the network: the file's own pixels (no colour
// management, EXIF orientation applied), then the same SquareSampler as the camera frames.
import type { SquareSampler } from './square-sampler.ts';

export class ImageFileError extends Error {
  override name = 'ImageFileError';
}

async function decode(file: Blob): Promise<ImageBitmap> {
  try {
    // colorSpaceConversion 'none': the stored RGB values, as the command-line tool reads them.
    return await createImageBitmap(file, { colorSpaceConversion: 'none', imageOrientation: 'from-image', premultiplyAlpha: 'none' });
  } catch (e) {
    // Browsers without the options for blobs throw a TypeError; decoding errors are DOMExceptions.
    if (!(e instanceof TypeError)) throw e;
    return createImageBitmap(file);
  }
}

/**
 * Writes the image file's centre square as side × side × 3 RGB bytes into `out`. Rejects with an
 * ImageFileError naming the file when the browser cannot decode it.
 */
export async function imageFileToInput(file: File, sampler: SquareSampler, out: Uint8Array): Promise<{ width: number; height: number }> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await decode(file);
  } catch (e) {
    const type = file.type || 'unknown type';
    throw new ImageFileError(`${file.name} (${type}, ${file.size} bytes) could not be read as an image${e instanceof Error && e.message ? `: ${e.message}` : ''}`);
  }
  try {
    sampler.sample(bitmap, bitmap.width, bitmap.height, out);
    return { width: bitmap.width, height: bitmap.height };
  } finally {
    bitmap.close();
  }
}
