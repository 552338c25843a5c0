// Type-checked as browser code (DOM, a bundler's resolution, no Node types) against the packages' browser entries.
import { loadWeightsFromBytes, parseSafetensors, predict, type RgbImage, UNet11 } from '@ternausnet/model';
import { initDevice } from '@ternausnet/tensor';

export async function segmentInPage(weights: Uint8Array, image: RgbImage): Promise<Float32Array> {
  const gpu: GPU = navigator.gpu;
  const device = await initDevice({ gpu, kernels: 'cpu', variants: { conv3x3: 'direct' } });
  const model = new UNet11({ device, numFilters: Number(parseSafetensors(weights).metadata.num_filters ?? 32) });
  loadWeightsFromBytes(model, weights, 'weights.safetensors');
  return (await predict(model, image, { tile: 256 })).probabilities;
}

// @ts-expect-error: file IO is Node-only; the browser entry must not offer it.
export { readSafetensors } from '@ternausnet/model';
