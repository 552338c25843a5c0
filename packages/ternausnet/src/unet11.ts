/**
 * UNet11 (TernausNet): a U-Net whose encoder is VGG11's convolutional part, exactly as ternaus/TernausNet's
 * `UNet11(num_filters=32)`. Parameter names and layouts are PyTorch's state-dict keys.
 *
 * Every ReLU is fused into the convolution before it, and every skip connection `cat([decoder, encoder], 1)` is
 * a convolution over two channel segments, so no concatenated tensor is ever materialised.
 */
import {
  Conv2d,
  ConvTranspose2d,
  type Device,
  Module,
  ModuleList,
  maxPool2x2,
  Rng,
  type Tensor,
} from '@ternausnet/tensor';

/** The VGG11 `features` indices of its eight 3×3 convolutions, and their channel counts. */
export const VGG11_CONVS = [
  { index: 0, cin: 3, cout: 64 },
  { index: 3, cin: 64, cout: 128 },
  { index: 6, cin: 128, cout: 256 },
  { index: 8, cin: 256, cout: 256 },
  { index: 11, cin: 256, cout: 512 },
  { index: 13, cin: 512, cout: 512 },
  { index: 16, cin: 512, cout: 512 },
  { index: 18, cin: 512, cout: 512 },
] as const;

/**
 * The names under which the authors' UNet11 also exposes the encoder convolutions (`self.conv1 =
 * self.encoder[0]`, ...): PyTorch's state_dict lists each such tensor under both names.
 */
export const ENCODER_ALIASES: Record<string, number> = {
  conv1: 0,
  conv2: 3,
  conv3s: 6,
  conv3: 8,
  conv4s: 11,
  conv4: 13,
  conv5s: 16,
  conv5: 18,
};

export interface UNet11Options {
  /** Seed of PyTorch-default (LeCun-uniform-like) initialisation; see init.ts for the paper's schemes. */
  seed?: number;
  numFilters?: number;
  device?: Device;
}

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

/** DecoderBlock(in, mid, out) = ConvRelu(in, mid) → ConvTranspose2d(mid, out, 3, 2, 1, 1) → ReLU. */
export class DecoderBlock extends Module {
  readonly convRelu: ConvRelu;
  readonly up: ConvTranspose2d;
  constructor(cin: number, mid: number, cout: number, rng: Rng, device?: Device) {
    super();
    // `block` is an nn.Sequential in PyTorch: its children are named 0 (ConvRelu), 1 (ConvTranspose2d), 2 (ReLU).
    const block = this.registerModule('block', new ModuleList());
    this.convRelu = block.add('0', new ConvRelu(cin, mid, rng, device));
    this.up = block.add('1', new ConvTranspose2d(mid, cout, { rng, ...(device ? { device } : {}) }));
  }
  forward(x: Tensor | readonly Tensor[]): Tensor {
    const h = this.convRelu.forward(x);
    const y = this.up.forward(h, { relu: true });
    h.dispose();
    return y;
  }
}

/** Nearest multiples of 32 around `n`, for error messages. */
export function nearestValidSizes(n: number): [number, number] {
  const below = Math.max(32, Math.floor(n / 32) * 32);
  const above = Math.ceil(n / 32) * 32;
  return [below, above === below ? below + 32 : above];
}

/** Throws a clear error unless `shape` is [N, 3, H, W] with H and W positive multiples of 32. */
export function checkUNet11Input(shape: readonly number[]): void {
  if (shape.length !== 4 || shape[1] !== 3) {
    throw new RangeError(`UNet11 expects an RGB batch [N, 3, H, W], got [${shape}]`);
  }
  for (const [name, n] of [
    ['height', shape[2]!],
    ['width', shape[3]!],
  ] as const) {
    if (n < 32 || n % 32 !== 0) {
      const [lo, hi] = nearestValidSizes(n);
      throw new RangeError(
        `UNet11 input ${name} ${n} is not a multiple of 32 (the encoder pools 5 times); use ${lo} or ${hi} ` +
          `(crop or pad the image; predict() pads automatically)`,
      );
    }
  }
}

export class UNet11 extends Module {
  readonly numFilters: number;
  /** encoder.{0,3,6,8,11,13,16,18}: VGG11's convolutions. */
  readonly encoder: Conv2d[];
  readonly center: DecoderBlock;
  readonly dec5: DecoderBlock;
  readonly dec4: DecoderBlock;
  readonly dec3: DecoderBlock;
  readonly dec2: DecoderBlock;
  readonly dec1: ConvRelu;
  readonly final: Conv2d;
  /** The alias names of the encoder convolutions in PyTorch's state dict (weights.ts reads them). */
  readonly encoderAliases: Readonly<Record<string, number>> = ENCODER_ALIASES;

  constructor(options: UNet11Options = {}) {
    super();
    const rng = new Rng(options.seed ?? 0);
    const f = options.numFilters ?? 32;
    if (f !== 32) {
      // The authors' UNet11 takes num_filters, but its centre block expects num_filters·16 input channels where
      // VGG11 gives 512: PyTorch fails at the first forward for any other value. Say so now.
      throw new RangeError(
        `UNet11: numFilters ${f} cannot work (ternaus' UNet11 feeds VGG11's 512 channels into a centre block ` +
          `built for numFilters·16 inputs, so only 32 fits); use UNet16 for other decoder widths`,
      );
    }
    this.numFilters = f;
    const device = options.device;
    const dev = device ? { device } : {};
    const encoder = this.registerModule('encoder', new ModuleList());
    this.encoder = VGG11_CONVS.map(({ index, cin, cout }) =>
      encoder.add(String(index), new Conv2d(cin, cout, 3, { rng, ...dev })),
    );
    this.center = this.registerModule('center', new DecoderBlock(f * 16, f * 16, f * 8, rng, device));
    this.dec5 = this.registerModule('dec5', new DecoderBlock(f * (16 + 8), f * 16, f * 8, rng, device));
    this.dec4 = this.registerModule('dec4', new DecoderBlock(f * (16 + 8), f * 16, f * 4, rng, device));
    this.dec3 = this.registerModule('dec3', new DecoderBlock(f * (8 + 4), f * 8, f * 2, rng, device));
    this.dec2 = this.registerModule('dec2', new DecoderBlock(f * (4 + 2), f * 4, f, rng, device));
    this.dec1 = this.registerModule('dec1', new ConvRelu(f * (2 + 1), f, rng, device));
    this.final = this.registerModule('final', new Conv2d(f, 1, 1, { rng, ...dev }));
  }

  /** Logits [N, 1, H, W] for an ImageNet-normalised RGB batch [N, 3, H, W] (H, W multiples of 32). */
  forward(x: Tensor): Tensor {
    checkUNet11Input(x.shape);
    const e = this.encoder;
    const conv = (i: number, input: Tensor) => e[i]!.forward(input, { relu: true });
    const pooled = (t: Tensor) => maxPool2x2(t);
    // Intermediates are released as soon as nothing downstream reads them (autograd keeps what it needs).
    const conv1 = conv(0, x);
    let p = pooled(conv1);
    const conv2 = conv(1, p);
    p.dispose();
    p = pooled(conv2);
    const conv3s = conv(2, p);
    p.dispose();
    const conv3 = conv(3, conv3s);
    conv3s.dispose();
    p = pooled(conv3);
    const conv4s = conv(4, p);
    p.dispose();
    const conv4 = conv(5, conv4s);
    conv4s.dispose();
    p = pooled(conv4);
    const conv5s = conv(6, p);
    p.dispose();
    const conv5 = conv(7, conv5s);
    conv5s.dispose();
    p = pooled(conv5);
    const center = this.center.forward(p);
    p.dispose();
    const dec5 = this.dec5.forward([center, conv5]);
    center.dispose();
    conv5.dispose();
    const dec4 = this.dec4.forward([dec5, conv4]);
    dec5.dispose();
    conv4.dispose();
    const dec3 = this.dec3.forward([dec4, conv3]);
    dec4.dispose();
    conv3.dispose();
    const dec2 = this.dec2.forward([dec3, conv2]);
    dec3.dispose();
    conv2.dispose();
    const dec1 = this.dec1.forward([dec2, conv1]);
    dec2.dispose();
    conv1.dispose();
    const logits = this.final.forward(dec1);
    dec1.dispose();
    return logits;
  }
}
