// A plain Node program (no tsx, no TypeScript) using the packages installed from their tarballs: builds UNet11,
// takes one Adam step and predicts. Prints one JSON line for the consumer test.

import { createUNet11, parseSafetensors, predict, serializeWeights } from '@ternausnet/model';
import { Adam, bceJaccardLoss, initDevice, rand, randn, tidy } from '@ternausnet/tensor';
import { tuningFingerprint } from '@ternausnet/tensor/node';

const device = await initDevice();
const model = await createUNet11({ scheme: 'lecun', seed: 7 });
const opt = new Adam(model.parameters(), { lr: 1e-3 });
const x = randn([1, 3, 32, 32], { seed: 1 });
const target = rand([1, 1, 32, 32], { seed: 2 });
const before = await model.namedParameters().get('final.weight').toArray();
const loss = tidy(() => {
  opt.zeroGrad();
  const l = bceJaccardLoss(model.forward(x), target);
  l.backward();
  opt.step();
  return l.detach();
});
const lossValue = await loss.item();
loss.dispose();
const after = await model.namedParameters().get('final.weight').toArray();
const changed = after.some((v, i) => v !== before[i]);

const width = 40;
const height = 35;
const data = new Uint8Array(width * height * 3).map((_, i) => (i * 37) % 256);
const prediction = await predict(model, { data, width, height }, { tile: 32 });
const weights = parseSafetensors(await serializeWeights(model));
console.log(
  JSON.stringify({
    adapter: device.adapterName,
    loss: lossValue,
    changed,
    width: prediction.width,
    height: prediction.height,
    probabilities: prediction.probabilities.length,
    inUnitInterval: prediction.probabilities.every((p) => p >= 0 && p <= 1),
    weightTensors: weights.tensors.size,
    // The tuning cache's hash of the installed kernel modules (dist/*.js).
    kernelsHash: tuningFingerprint(device).kernels,
  }),
);
x.dispose();
target.dispose();
model.dispose();
await device.destroy();
