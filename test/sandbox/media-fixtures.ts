/** Real image files for the media tests. */
import jpeg from 'jpeg-js';

/** A real JPEG: a colour gradient of the given size. */
export function gradientJpeg(width: number, height: number, quality = 90): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      data[i] = Math.round((x * 255) / width);
      data[i + 1] = Math.round((y * 255) / height);
      data[i + 2] = 90;
      data[i + 3] = 255;
    }
  }
  return jpeg.encode({ width, height, data }, quality).data;
}

/** The RPC error name of a failed call ('no error' when it succeeded). */
export async function rpcError(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as { errorMessage?: string }).errorMessage ?? String(error);
  }
  return 'no error';
}
