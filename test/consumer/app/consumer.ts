// Type-checked against the installed packages' .d.ts files (strict), never run: the public types a TypeScript
// consumer sees, in Node (the `node` entry adds Dawn and file IO) and through the browser-safe core.
import { type Prediction, predict, type RgbImage, readSafetensors, UNet11 } from '@ternausnet/model';
import { type Device, type DeviceOptions, initDevice, type Tensor, tensor, tidy } from '@ternausnet/tensor';
import { deviceOptionsFromEnv } from '@ternausnet/tensor/node';

export async function segment(image: RgbImage, weights: string): Promise<Prediction> {
  const options: DeviceOptions = { ...deviceOptionsFromEnv(), poison: false };
  const device: Device = await initDevice(options);
  const model = new UNet11({ seed: 0, device });
  const file = await readSafetensors(weights);
  const names: string[] = [...file.tensors.keys()];
  const t: Tensor = tidy(() => tensor(new Float32Array(names.length), [names.length]));
  t.dispose();
  return predict(model, image, { tile: 256, threshold: 0.3 });
}

// @ts-expect-error: the type checker must reject a wrong option type (proves the .d.ts are really used).
export const wrong: DeviceOptions = { poison: 'yes' };
