/**
 * What UNet11 and UNet16 share. Both are the authors' U-Net over a VGG encoder: five encoder stages with a
 * max-pool before each but the first, a centre block on the pooled fifth stage, decoder blocks dec5 … dec2 and a
 * ConvRelu dec1 that each read the previous output concatenated with the encoder stage of the same size, and a
 * 1×1 `final` convolution. They differ in the VGG (which convolutions, how many per stage), the decoder blocks
 * and their widths; `VggUNet` runs the forward pass the same way for both.
 */
import { Conv2d, type Device, Module, ModuleList, maxPool2x2, type Rng, type Tensor } from '@ternausnet/tensor';

/** ConvRelu: `conv` (3×3, padding 1) then ReLU (fused). */
export class ConvRelu extends Module {
  readonly conv: Conv2d;
  constructor(cin: number, cout: number, rng: Rng, device?: Device) {
    super();
    this.conv = this.registerModule('conv', new Conv2d(cin, cout, 3, { rng, ...(device ? { device } : {}) }));
  }
  forward(x: Tensor | readonly Tensor[]): Tensor {
    return this.conv.forward(x, { relu: true });
  }
}

/** Nearest multiples of 32 around `n`, for error messages. */
export function nearestValidSizes(n: number): [number, number] {
  const below = Math.max(32, Math.floor(n / 32) * 32);
  const above = Math.ceil(n / 32) * 32;
  return [below, above === below ? below + 32 : above];
}

/** Throws a clear error unless `shape` is [N, 3, H, W] with H and W positive multiples of 32. */
export function checkUNetInput(model: string, shape: readonly number[]): void {
  if (shape.length !== 4 || shape[1] !== 3) {
    throw new RangeError(`${model} expects an RGB batch [N, 3, H, W], got [${shape}]`);
  }
  for (const [name, n] of [
    ['height', shape[2]!],
    ['width', shape[3]!],
  ] as const) {
    if (n < 32 || n % 32 !== 0) {
      const [lo, hi] = nearestValidSizes(n);
      throw new RangeError(
        `${model} input ${name} ${n} is not a multiple of 32 (the encoder pools 5 times); use ${lo} or ${hi} ` +
          `(crop or pad the image; predict() pads automatically)`,
      );
    }
  }
}

/** A decoder block: one tensor, or the channel segments of `cat(x, 1)`, in; one tensor out. */
export interface DecoderStage extends Module {
  forward(x: Tensor | readonly Tensor[]): Tensor;
}

/** One convolution of VGG's `features`: its index there (the state-dict name `encoder.N`) and channel counts. */
export interface VggConv {
  readonly index: number;
  readonly cin: number;
  readonly cout: number;
}

/**
 * torchvision's VGG configuration (`cfgs` in torchvision/models/vgg.py): the output channels of a 3×3
 * convolution, or 'M' for a 2×2 max-pool.
 */
export type VggConfig = readonly (number | 'M')[];

/**
 * The convolutions of torchvision's VGG `features` for `cfg`, by stage (the convolutions before each max-pool).
 * Every convolution is followed by a ReLU, so a convolution's `features` index steps by 2, or 3 over a pool.
 */
export function vggStages(cfg: VggConfig): VggConv[][] {
  const stages: VggConv[][] = [[]];
  let index = 0;
  let cin = 3;
  for (const v of cfg) {
    if (v === 'M') {
      index += 1;
      stages.push([]);
    } else {
      stages.at(-1)!.push({ index, cin, cout: v });
      index += 2;
      cin = v;
    }
  }
  return stages.filter((stage) => stage.length > 0);
}

/**
 * The encoder (`encoder.N`, registered first and drawn first from the RNG, as in PyTorch) and the forward pass.
 * A subclass registers `center`, `dec5` … `dec1` and `final` after `super()`, in PyTorch's order, since that
 * order is the state dict's and the RNG's.
 */
export abstract class VggUNet extends Module {
  readonly numFilters: number;
  /** encoder.N: VGG's convolutions, under their `features` indices. */
  readonly encoder: Conv2d[];
  abstract readonly center: DecoderStage;
  abstract readonly dec5: DecoderStage;
  abstract readonly dec4: DecoderStage;
  abstract readonly dec3: DecoderStage;
  abstract readonly dec2: DecoderStage;
  abstract readonly dec1: ConvRelu;
  abstract readonly final: Conv2d;
  /** The alias names of the encoder convolutions in PyTorch's state dict (weights.ts reads them). */
  abstract readonly encoderAliases: Readonly<Record<string, number>>;
  private readonly modelName: string;
  /** How many of `encoder`'s convolutions each of the five stages runs. */
  private readonly stageSizes: readonly number[];

  /** `stages`: the VGG's convolutions by stage (`vggStages`). */
  protected constructor(
    modelName: string,
    stages: readonly (readonly VggConv[])[],
    numFilters: number,
    rng: Rng,
    device?: Device,
  ) {
    super();
    this.modelName = modelName;
    this.stageSizes = stages.map((stage) => stage.length);
    this.numFilters = numFilters;
    const encoder = this.registerModule('encoder', new ModuleList());
    this.encoder = stages
      .flat()
      .map(({ index, cin, cout }) =>
        encoder.add(String(index), new Conv2d(cin, cout, 3, { rng, ...(device ? { device } : {}) })),
      );
  }

  /** Logits [N, 1, H, W] for an ImageNet-normalised RGB batch [N, 3, H, W] (H, W multiples of 32). */
  forward(x: Tensor): Tensor {
    checkUNetInput(this.modelName, x.shape);
    // Intermediates are released as soon as nothing downstream reads them (autograd keeps what it needs).
    const skips = this.encode(x);
    const pooled = maxPool2x2(skips[skips.length - 1]!);
    let h = this.center.forward(pooled);
    pooled.dispose();
    for (const [k, block] of [this.dec5, this.dec4, this.dec3, this.dec2, this.dec1].entries()) {
      const skip = skips[skips.length - 1 - k]!;
      const next = block.forward([h, skip]);
      h.dispose();
      skip.dispose();
      h = next;
    }
    const logits = this.final.forward(h);
    h.dispose();
    return logits;
  }

  /** The outputs of the five encoder stages (conv1 … conv5 in the authors' names), each after its ReLU. */
  private encode(x: Tensor): Tensor[] {
    const outputs: Tensor[] = [];
    let i = 0;
    for (const size of this.stageSizes) {
      let h = outputs.length === 0 ? x : maxPool2x2(outputs[outputs.length - 1]!);
      for (let k = 0; k < size; k++) {
        const next = this.encoder[i++]!.forward(h, { relu: true });
        if (h !== x) h.dispose(); // the pooled input or the stage's previous convolution, never the caller's
        h = next;
      }
      outputs.push(h);
    }
    return outputs;
  }
}
