import { DEFAULT_ARCHITECTURE, tuneModelKernels } from '@ternausnet/model';
import { initDevice } from '@ternausnet/tensor';
const t0 = performance.now();
await initDevice();
console.log('init', (performance.now() - t0).toFixed(0));
const r = await tuneModelKernels(DEFAULT_ARCHITECTURE, { sizes: [32], budgetMs: 20_000, cachePath: '/tmp/tt/k.json', retune: true,
  onProgress: (e) => console.log((performance.now() - t0).toFixed(0), e.done, e.key, e.variant, e.ms.toFixed(2)) });
console.log('end', (performance.now() - t0).toFixed(0), r.elapsedMs.toFixed(0), r.tuned.length, r.untuned.length);
