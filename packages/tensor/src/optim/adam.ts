/**
 * Adam (torch.optim.Adam semantics) as one fused kernel over all parameters. The optimizer packs its
 * parameters into one GPU arena (each parameter tensor becomes a view into it, offsets aligned for binding),
 * and their gradients into a second arena that backward() writes into in place, so that a step is a single
 * dispatch whatever the number of layers.
 *
 * `zeroGrad()` sets every `.grad` to null, as PyTorch's default `set_to_none`: the arena views stay reserved
 * for the parameters (`Tensor.reservedGrad`), so the next backward() overwrites them instead of adding to a
 * zero fill. Difference from PyTorch, by design: a parameter that received no gradient still takes a step from
 * its momentum (its gradient counts as zero; PyTorch skips it).
 */
import { adamUpdate, elementwise } from '@ternausnet/kernels-wgsl';
import type { Device } from '../device.ts';
import { keep, Storage, Tensor } from '../tensor.ts';

export interface AdamOptions {
  /** Learning rate (default 1e-3, as the paper). */
  lr?: number;
  betas?: readonly [number, number];
  eps?: number;
  /** L2 penalty added to the gradient (Adam's weight_decay, not AdamW's). */
  weightDecay?: number;
}

/** Floats between parameter starts: 64 floats = 256 bytes, the strictest storage-offset alignment in WebGPU. */
const ALIGN_FLOATS = 64;

interface Slot {
  param: Tensor;
  offset: number;
}

/** A device buffer holding many tensors back to back; every view is a Tensor that keeps the arena alive. */
class Arena {
  readonly storage: Storage;
  constructor(
    readonly device: Device,
    readonly floats: number,
    label: string,
  ) {
    this.storage = Storage.allocate(device, floats * 4, label);
    elementwise(device, {
      expression: 'fill',
      operands: [],
      out: this.storage.range,
      outShape: [floats],
      scalars: [0],
    });
  }

  view(offset: number, shape: readonly number[]): Tensor {
    const size = shape.reduce((p, d) => p * d, 1);
    return keep(new Tensor(this.storage.view(offset * 4, size * 4), shape));
  }

  get whole(): Tensor {
    return this.view(0, [this.floats]);
  }
}

export class Adam {
  private lrValue: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Number of steps taken. */
  stepCount = 0;
  private readonly slots: Slot[];
  private readonly params: Arena;
  private readonly grads: Arena;
  private readonly m: Arena;
  private readonly v: Arena;
  private readonly gradViews: Tensor[];

  constructor(parameters: readonly Tensor[], options: AdamOptions = {}) {
    if (parameters.length === 0) throw new RangeError('Adam: no parameters to optimize');
    this.lrValue = options.lr ?? 1e-3;
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    for (const [k, v] of Object.entries({ lr: this.lrValue, eps: this.eps, weightDecay: this.weightDecay })) {
      if (!(v >= 0) || !Number.isFinite(v)) throw new RangeError(`Adam: ${k} must be a finite number ≥ 0, got ${v}`);
    }
    if (!(this.beta1 >= 0 && this.beta1 < 1 && this.beta2 >= 0 && this.beta2 < 1)) {
      throw new RangeError(`Adam: betas must be in [0, 1), got [${this.beta1}, ${this.beta2}]`);
    }
    if (new Set(parameters).size !== parameters.length) throw new RangeError('Adam: a parameter is listed twice');
    const device = parameters[0]!.device;
    let total = 0;
    this.slots = parameters.map((param) => {
      if (!param.requiresGrad) throw new RangeError(`Adam: parameter ${param.describe()} does not require grad`);
      if (param.device !== device) throw new RangeError('Adam: parameters are on different devices');
      const slot = { param, offset: total };
      total += Math.ceil(param.size / ALIGN_FLOATS) * ALIGN_FLOATS;
      return slot;
    });
    this.params = new Arena(device, total, 'adam parameters');
    this.grads = new Arena(device, total, 'adam gradients');
    this.m = new Arena(device, total, 'adam exp_avg');
    this.v = new Arena(device, total, 'adam exp_avg_sq');
    this.gradViews = this.slots.map(({ param, offset }) => {
      const view = this.params.view(offset, param.shape);
      device.copy(param.rangeFor('Adam'), view.rangeFor('Adam'));
      const s = view.storageFor('Adam');
      s.retain();
      param.replaceStorage(s);
      view.dispose();
      const g = this.grads.view(offset, param.shape);
      if (param.grad) {
        device.copy(param.grad.rangeFor('Adam'), g.rangeFor('Adam'));
        param.grad.dispose();
      }
      param.grad = g;
      param.reservedGrad = g;
      return g;
    });
  }

  /** The parameters, in the order given. */
  get parameters(): readonly Tensor[] {
    return this.slots.map((s) => s.param);
  }

  /**
   * Clear every gradient: `.grad` becomes null and the next backward() writes the parameter's slot of the
   * gradient arena afresh (no fill pass over the arena).
   */
  zeroGrad(): void {
    this.slots.forEach(({ param }, i) => {
      const view = this.gradViews[i]!;
      if (param.grad && param.grad !== view) param.grad.dispose();
      param.grad = null;
      param.reservedGrad = view;
    });
  }

  /** The learning rate of the next step; settable between steps for a schedule (PyTorch's `param_groups[0]['lr']`). */
  get lr(): number {
    return this.lrValue;
  }

  set lr(value: number) {
    if (!(value >= 0) || !Number.isFinite(value))
      throw new RangeError(`Adam: lr must be a finite number ≥ 0, got ${value}`);
    this.lrValue = value;
  }

  /** One Adam update of every parameter from its current gradient. */
  step(): void {
    this.reattachGradients();
    this.stepCount++;
    adamUpdate(this.params.device, {
      params: this.params.storage.range,
      grads: this.grads.storage.range,
      m: this.m.storage.range,
      v: this.v.storage.range,
      count: this.params.floats,
      lr: this.lr,
      beta1: this.beta1,
      beta2: this.beta2,
      eps: this.eps,
      weightDecay: this.weightDecay,
      step: this.stepCount,
    });
    // Every parameter changed: caches of their packed forms (Storage.version) are stale now.
    this.params.storage.markWritten();
  }

  /**
   * Put each parameter's arena view back as its `.grad`: copy a `.grad` that user code replaced into it, and zero
   * it for a parameter that received no gradient since `zeroGrad()`.
   */
  private reattachGradients(): void {
    this.slots.forEach(({ param }, i) => {
      const view = this.gradViews[i]!;
      if (param.grad === view) return;
      if (param.grad) {
        param.device.copy(param.grad.rangeFor('Adam'), view.rangeFor('Adam'));
        param.grad.dispose();
      } else {
        elementwise(param.device, {
          expression: 'fill',
          operands: [],
          out: view.rangeFor('Adam'),
          outShape: [view.size],
          scalars: [0],
        });
      }
      param.grad = view;
    });
  }

  /** Optimizer state per parameter (views into the arenas, not copies): for checkpoints. */
  state(): { exp_avg: Tensor; exp_avg_sq: Tensor }[] {
    return this.slots.map(({ param, offset }) => ({
      exp_avg: this.m.view(offset, param.shape),
      exp_avg_sq: this.v.view(offset, param.shape),
    }));
  }

  /**
   * Restore a saved state (for resuming a run): the step count and each parameter's exp_avg / exp_avg_sq, in
   * parameter order.
   */
  loadState(stepCount: number, moments: readonly { exp_avg: Float32Array; exp_avg_sq: Float32Array }[]): void {
    if (!Number.isInteger(stepCount) || stepCount < 0) throw new RangeError(`Adam.loadState: bad step ${stepCount}`);
    if (moments.length !== this.slots.length) {
      throw new RangeError(`Adam.loadState: ${moments.length} parameter states for ${this.slots.length} parameters`);
    }
    const views = this.state();
    moments.forEach((m, i) => {
      const v = views[i]!;
      for (const [key, data] of [
        ['exp_avg', m.exp_avg],
        ['exp_avg_sq', m.exp_avg_sq],
      ] as const) {
        const t = v[key];
        if (data.length !== t.size) {
          throw new RangeError(
            `Adam.loadState: ${key} of parameter ${i} has ${data.length} values, expected ${t.size}`,
          );
        }
        const s = t.storageFor('Adam.loadState');
        t.device.write(s.buffer, s.byteOffset, data);
        s.markWritten();
      }
    });
    for (const v of views) {
      v.exp_avg.dispose();
      v.exp_avg_sq.dispose();
    }
    this.stepCount = stepCount;
  }

  /** Free the arenas (the parameters keep their data: they become views of a storage that lives on). */
  dispose(): void {
    this.slots.forEach(({ param }, i) => {
      if (param.grad === this.gradViews[i]) param.grad = null;
      if (param.reservedGrad === this.gradViews[i]) param.reservedGrad = null;
    });
    for (const g of this.gradViews) g.dispose();
    for (const a of [this.params, this.grads, this.m, this.v]) a.storage.release();
  }
}
