/**
 * A pool of storage buffers in size classes. Training allocates the same activation sizes every step, so after
 * the first step every request is served from a free list and the number of live GPU buffers stays flat.
 *
 * Size classes: 4 per octave below 1 MiB, 8 per octave above (waste ≤ 25 % / 12.5 %), minimum 256 bytes.
 * Reusing a released buffer before the GPU has executed the commands that read it is safe because all work
 * goes through one queue in order; the Device flushes before any `queue.writeBuffer`, the one operation that
 * could overtake encoded-but-unsubmitted commands.
 */

/** The class size a request of `bytes` is rounded up to. */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const octave = 2 ** Math.floor(Math.log2(bytes));
  const steps = bytes >= 2 ** 20 ? 8 : 4;
  const step = octave / steps;
  return Math.ceil(bytes / step) * step;
}

export interface PoolStats {
  /** Buffers handed out and not yet released. */
  liveBuffers: number;
  liveBytes: number;
  /** The most bytes live at once since the pool was made or `resetPeak()` (bounded-memory checks). */
  peakLiveBytes: number;
  /** Released buffers kept for reuse. */
  pooledBuffers: number;
  pooledBytes: number;
  /** GPU buffers ever created by this pool (a flat value over a training loop means full reuse). */
  createdBuffers: number;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly live = new Set<GPUBuffer>();
  private liveBytes = 0;
  private peakLiveBytes = 0;
  private pooledBytes = 0;
  private pooledBuffers = 0;
  private created = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly maxBufferSize: number,
    /** Released buffers beyond this many pooled bytes are destroyed instead of kept. */
    private readonly maxPooledBytes: number,
  ) {}

  acquire(bytes: number, label: string): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(size);
    let buffer = list?.pop();
    if (buffer) {
      this.pooledBytes -= size;
      this.pooledBuffers--;
    } else {
      if (size > this.maxBufferSize) {
        throw new RangeError(
          `${label}: a buffer of ${bytes} bytes (${(bytes / 2 ** 20).toFixed(1)} MiB) exceeds this device's ` +
            `maxBufferSize of ${(this.maxBufferSize / 2 ** 20).toFixed(0)} MiB; use a smaller batch or tile.`,
        );
      }
      buffer = this.device.createBuffer({
        size,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
        label,
      });
      this.created++;
    }
    this.live.add(buffer);
    this.liveBytes += size;
    this.peakLiveBytes = Math.max(this.peakLiveBytes, this.liveBytes);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    if (!this.live.delete(buffer)) throw new Error(`buffer ${buffer.label} released twice or not from this pool`);
    const size = buffer.size;
    this.liveBytes -= size;
    if (this.pooledBytes + size > this.maxPooledBytes) {
      buffer.destroy();
      return;
    }
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buffer);
    this.pooledBytes += size;
    this.pooledBuffers++;
  }

  /** Destroy every pooled (free) buffer, e.g. after inference at a different tile size. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.pooledBytes = 0;
    this.pooledBuffers = 0;
  }

  resetPeak(): void {
    this.peakLiveBytes = this.liveBytes;
  }

  stats(): PoolStats {
    return {
      liveBuffers: this.live.size,
      liveBytes: this.liveBytes,
      peakLiveBytes: this.peakLiveBytes,
      pooledBuffers: this.pooledBuffers,
      pooledBytes: this.pooledBytes,
      createdBuffers: this.created,
    };
  }
}
