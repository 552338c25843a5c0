/**
 * The Node entry of @ternausnet/tensor (the package's `node` export condition): the browser-safe core with
 * Dawn (the `webgpu` package) installed as the GPU platform, so `initDevice()` opens a Dawn device and reads
 * WEBGPU_BACKEND / WEBGPU_ADAPTER / TERNAUSNET_KERNELS / TERNAUSNET_VARIANTS as defaults; and what needs files:
 * atomic writes and the kernel tuning cache.
 */
import { dawnPlatform } from './node/dawn.ts';
import { setGpuPlatform } from './platform.ts';

setGpuPlatform(dawnPlatform);

export * from './index.ts';
export { awaitDawn, deviceOptionsFromEnv } from './node/dawn.ts';
export { writeFileAtomic, writeJsonAtomic } from './node/files.ts';
export {
  defaultTuningCachePath,
  type LoadedTuning,
  loadKernelTuning,
  saveKernelTuning,
  type TuningFingerprint,
  tuningFingerprint,
} from './node/tuning-cache.ts';
