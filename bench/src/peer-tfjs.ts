import type { Device } from '@ternausnet/tensor';

export async function runTfjsPeer(
  _device: Device,
  _command: string,
  _o: { size: number; batch: number; runs: number; warmup: number; ours: Record<string, unknown> },
): Promise<unknown> {
  throw new Error('--peer tfjs: not implemented yet');
}
