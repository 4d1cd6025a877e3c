// A deterministic test image, so the page and the tests can classify exactly the same bytes
// without a camera: smooth colour gradients with a bright disc, H×W×C bytes in NHWC order.

export function syntheticImage(height = 32, width = 32, channels = 3): Uint8Array {
  const bytes = new Uint8Array(height * width * channels);
  const cy = height * 0.4;
  const cx = width * 0.6;
  const r2 = (Math.min(height, width) * 0.25) ** 2;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inDisc = (y - cy) ** 2 + (x - cx) ** 2 <= r2;
      for (let c = 0; c < channels; c++) {
        const gradient = c === 0 ? (x * 255) / (width - 1) : c === 1 ? (y * 255) / (height - 1) : ((x + y) * 255) / (width + height - 2);
        bytes[(y * width + x) * channels + c] = inDisc ? 255 - Math.round(gradient / 4) : Math.round(gradient);
      }
    }
  }
  return bytes;
}
