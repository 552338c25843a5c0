/** The page the browser tests load to run op-checks.ts on the browser's WebGPU (bundled by esbuild). */
import { initDevice } from '@ternausnet/tensor';
import { type OpCheck, runOpChecks } from './op-checks.ts';

declare global {
  interface Window {
    opChecks?: { adapter: string; features: string[]; seed: number; results: OpCheck[] };
  }
}

const seed = Number(new URLSearchParams(location.search).get('seed') ?? 1);
try {
  const device = await initDevice({ poison: true });
  const results = await runOpChecks(device, seed);
  window.opChecks = { adapter: device.adapterName, features: [...device.features], seed, results };
  document.body.textContent = JSON.stringify(window.opChecks, null, 1);
  document.body.dataset.state = 'done';
} catch (e) {
  document.body.textContent = `error: ${(e as Error).stack ?? e}`;
  document.body.dataset.state = 'error';
}
