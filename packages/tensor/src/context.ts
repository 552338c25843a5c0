/** The default device, so that creation functions need no device argument in the common one-device case. */
import { Device } from './device.ts';
import type { DeviceOptions } from './platform.ts';

let current: Device | null = null;

/** Create a Device (see DeviceOptions for adapter choice) and make it the default one. */
export async function initDevice(options: DeviceOptions = {}): Promise<Device> {
  const device = await Device.create(options);
  current = device;
  return device;
}

/** The default device; throws if `initDevice()` was not awaited first. */
export function getDevice(): Device {
  if (!current || current.isDestroyed) {
    throw new Error('No WebGPU device: `await initDevice()` before creating tensors (or pass { device }).');
  }
  return current;
}
