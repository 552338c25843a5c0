/**
 * Layers with named parameters, PyTorch style: state-dict names are the attribute paths joined by dots
 * (`center.block.0.conv.weight`), initialisation follows PyTorch's defaults, seeded.
 */
import { tensor } from './creation.ts';
import type { Device } from './device.ts';
import { convTranspose3x3s2, convTranspose4x4s2 } from './ops/conv-transpose.ts';
import { conv1x1 } from './ops/conv1x1.ts';
import { type ConvOptions, conv3x3 } from './ops/conv3x3.ts';
import type { Rng } from './random.ts';
import { keep, type Tensor } from './tensor.ts';

export class Module {
  private readonly params = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  /** Register (and keep alive past every scope) a parameter under `name`. */
  protected registerParameter(name: string, t: Tensor): Tensor {
    if (this.params.has(name) || this.children.has(name)) throw new Error(`duplicate member '${name}'`);
    t.requiresGrad = true;
    t.name = name;
    this.params.set(name, keep(t));
    return t;
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    if (this.params.has(name) || this.children.has(name)) throw new Error(`duplicate member '${name}'`);
    this.children.set(name, m);
    return m;
  }

  /** Parameters by their dotted state-dict name, in registration order. */
  namedParameters(prefix = ''): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [k, v] of this.params) out.set(prefix + k, v);
    for (const [k, m] of this.children) for (const [n, t] of m.namedParameters(`${prefix}${k}.`)) out.set(n, t);
    return out;
  }

  parameters(): Tensor[] {
    return [...this.namedParameters().values()];
  }

  /** Total number of parameter elements. */
  parameterCount(): number {
    return this.parameters().reduce((p, t) => p + t.size, 0);
  }

  /** Free every parameter (and its gradient). */
  dispose(): void {
    for (const t of this.parameters()) t.dispose();
  }
}

/** A container of child modules under explicit names (PyTorch's nn.Sequential uses "0", "1", ...). */
export class ModuleList extends Module {
  add<M extends Module>(name: string, m: M): M {
    return this.registerModule(name, m);
  }
}

/** U(−bound, bound) samples from `rng`, as a parameter tensor. */
export function uniformParameter(shape: readonly number[], bound: number, rng: Rng, device?: Device): Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (rng.next() * 2 - 1) * bound;
  return tensor(data, shape, device ? { device } : {});
}

/**
 * PyTorch's default initialisation of Conv2d / ConvTranspose2d, `kaiming_uniform_(a=√5)`: U(±1/√fan_in) for the
 * weight and the bias. fan_in is `weight.size(1) · k²`: Cin·k² for Conv2d ([Cout, Cin, k, k]) and Cout·k² for
 * ConvTranspose2d ([Cin, Cout, k, k]), exactly as torch.nn.init._calculate_fan_in_and_fan_out computes it.
 */
export function pytorchDefaultBound(weightShape: readonly number[]): number {
  const fanIn = weightShape.slice(1).reduce((p, d) => p * d, 1);
  return 1 / Math.sqrt(fanIn);
}

export interface LayerOptions {
  bias?: boolean;
  rng: Rng;
  device?: Device;
}

/** A convolution's weight and (unless `bias: false`) bias, drawn in that order with PyTorch's default init. */
abstract class ConvLayer extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(weightShape: readonly number[], outChannels: number, options: LayerOptions) {
    super();
    const bound = pytorchDefaultBound(weightShape);
    this.weight = this.registerParameter('weight', uniformParameter(weightShape, bound, options.rng, options.device));
    this.bias =
      options.bias === false
        ? null
        : this.registerParameter('bias', uniformParameter([outChannels], bound, options.rng, options.device));
  }
}

/** Conv2d with kernel 3 (padding 1) or 1; forward takes one tensor or a channel-concatenated list. */
export class Conv2d extends ConvLayer {
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: 1 | 3,
    options: LayerOptions,
  ) {
    if (kernelSize !== 1 && kernelSize !== 3)
      throw new RangeError(`Conv2d: kernel size ${kernelSize} unsupported (1 or 3)`);
    super([outChannels, inChannels, kernelSize, kernelSize], outChannels, options);
  }

  forward(x: Tensor | readonly Tensor[], options: ConvOptions = {}): Tensor {
    if (this.kernelSize === 3) return conv3x3(x, this.weight, this.bias, options);
    if (Array.isArray(x) || options.relu) throw new RangeError('Conv2d(k=1): one input, no fused ReLU');
    return conv1x1(x as Tensor, this.weight, this.bias);
  }
}

/**
 * ConvTranspose2d with stride 2 and padding 1, doubling H and W: kernel 3 with output_padding 1 (UNet11's
 * decoder, the default) or kernel 4 (UNet16's `is_deconv=True` decoder).
 */
export class ConvTranspose2d extends ConvLayer {
  readonly kernelSize: 3 | 4;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    options: LayerOptions & { kernelSize?: 3 | 4 },
  ) {
    const k = options.kernelSize ?? 3;
    if (k !== 3 && k !== 4) throw new RangeError(`ConvTranspose2d: kernel size ${k as number} unsupported (3 or 4)`);
    super([inChannels, outChannels, k, k], outChannels, options);
    this.kernelSize = k;
  }

  forward(x: Tensor, options: ConvOptions = {}): Tensor {
    return this.kernelSize === 3
      ? convTranspose3x3s2(x, this.weight, this.bias, options)
      : convTranspose4x4s2(x, this.weight, this.bias, options);
  }
}
