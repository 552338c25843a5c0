/**
 * Encoding: dispatches and copies recorded into one command encoder and one compute pass, submitted every
 * `submitEvery` dispatches (the adapter starts on them while JS encodes more). Uniform blocks go into one arena
 * buffer, staged on the CPU and written once per submission, instead of one tiny buffer per dispatch.
 */
import type { BufferRange, DispatchRequest } from '@ternausnet/kernels-wgsl';

const UNIFORM_SLOT = 256;
const UNIFORM_ARENA_BYTES = 256 * 1024;

export class CommandRecorder {
  dispatches = 0;
  submits = 0;
  /** Timestamps of the next compute pass begun; set while `time()` records its one timed pass. */
  passTimestamps: GPUComputePassTimestampWrites | null = null;
  /** While set, every dispatch gets a compute pass of its own with these timestamps (`profile()`). */
  perDispatchTimestamps: ((label: string) => GPUComputePassTimestampWrites) | null = null;

  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pendingDispatches = 0;
  private readonly uniformArena: GPUBuffer;
  private readonly uniformStaging = new Uint8Array(UNIFORM_ARENA_BYTES);
  private uniformUsed = 0;
  private readonly uniformAlign: number;

  constructor(
    private readonly device: GPUDevice,
    private readonly submitEvery: number,
  ) {
    this.uniformAlign = Math.max(device.limits.minUniformBufferOffsetAlignment, 16);
    this.uniformArena = device.createBuffer({
      size: UNIFORM_ARENA_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: 'uniform arena',
    });
  }

  private ensurePass(): GPUComputePassEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    if (!this.pass) {
      this.pass = this.encoder.beginComputePass(this.passTimestamps ? { timestampWrites: this.passTimestamps } : {});
    }
    return this.pass;
  }

  /** End the open compute pass (if any) and return the encoder, for copies and query resolves. */
  endPass(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    return this.encoder;
  }

  dispatch(req: DispatchRequest): void {
    const entries: GPUBindGroupEntry[] = req.bindings.map((r, binding) => ({
      binding,
      resource: { buffer: r.buffer, offset: r.offset, size: r.size },
    }));
    if (req.uniforms) {
      const bytes = req.uniforms.byteLength;
      if (bytes > UNIFORM_SLOT) throw new RangeError(`${req.label}: uniform block of ${bytes} bytes > ${UNIFORM_SLOT}`);
      const slot = Math.ceil(bytes / this.uniformAlign) * this.uniformAlign;
      if (this.uniformUsed + slot > UNIFORM_ARENA_BYTES) {
        if (this.passTimestamps) {
          throw new RangeError('time(): the timed work needs more uniform space than one submission');
        }
        this.flush();
      }
      this.uniformStaging.set(new Uint8Array(req.uniforms), this.uniformUsed);
      entries.push({
        binding: req.bindings.length,
        resource: { buffer: this.uniformArena, offset: this.uniformUsed, size: bytes },
      });
      this.uniformUsed += slot;
    }
    let pass: GPUComputePassEncoder;
    if (this.perDispatchTimestamps) {
      const timestampWrites = this.perDispatchTimestamps(req.label);
      pass = this.pass = this.endPass().beginComputePass({ timestampWrites });
    } else pass = this.ensurePass();
    const bindGroup = this.device.createBindGroup({
      layout: req.pipeline.getBindGroupLayout(0),
      entries,
      label: req.label,
    });
    pass.setPipeline(req.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(req.workgroups[0], req.workgroups[1] ?? 1, req.workgroups[2] ?? 1);
    this.dispatches++;
    if (this.perDispatchTimestamps) this.endPass();
    if (++this.pendingDispatches >= this.submitEvery && !this.passTimestamps) this.flush();
  }

  /** Encode a buffer-to-buffer copy (in order with the dispatches). */
  copy(src: BufferRange, dst: BufferRange): void {
    if (src.size !== dst.size) throw new RangeError(`copy: sizes differ (${src.size} vs ${dst.size} bytes)`);
    if (src.size === 0) return;
    this.endPass().copyBufferToBuffer(src.buffer, src.offset, dst.buffer, dst.offset, src.size);
  }

  /** Submit everything encoded so far. */
  flush(): void {
    if (!this.encoder) return;
    const encoder = this.endPass();
    if (this.uniformUsed > 0) {
      this.device.queue.writeBuffer(this.uniformArena, 0, this.uniformStaging, 0, this.uniformUsed);
      this.uniformUsed = 0;
    }
    this.device.queue.submit([encoder.finish()]);
    this.encoder = null;
    this.pendingDispatches = 0;
    this.submits++;
  }
}
