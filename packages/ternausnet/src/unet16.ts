/**
 * UNet16 (TernausNet): a U-Net whose encoder is VGG16's convolutional part, exactly as ternaus/TernausNet's
 * `UNet16(num_classes=1, num_filters=32, pretrained=False, is_deconv=False)`. Parameter names and layouts are
 * PyTorch's state-dict keys.
 *
 * The decoder blocks are `DecoderBlockV2`: with `is_deconv=False` (the authors' default) bilinear 2× upsampling
 * (align_corners=False) → ConvRelu → ConvRelu; with `is_deconv=True` ConvRelu → ConvTranspose2d(kernel 4,
 * stride 2, padding 1) → ReLU. As in UNet11, ReLUs are fused into the convolution before them and skip
 * connections are convolutions over channel segments; upsampling is per channel, so `up(cat[a, b])` is computed
 * as `cat[up(a), up(b)]` without materialising the concatenation.
 */
import {
  Conv2d,
  ConvTranspose2d,
  type Device,
  Module,
  ModuleList,
  Rng,
  type Tensor,
  upsampleBilinear2x,
} from '@ternausnet/tensor';
import { ConvRelu, type VggConfig, type VggConv, VggUNet, vggStages } from './unet.ts';

/** VGG16 (torchvision's configuration 'D'): thirteen 3×3 convolutions in five stages. */
const VGG16_CFG: VggConfig = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'];
const VGG16_STAGES = vggStages(VGG16_CFG);

/** The VGG16 `features` indices of its thirteen convolutions (0, 2 | 5, 7 | 10, 12, 14 | 17, … | 24, 26, 28). */
export const VGG16_CONVS: readonly VggConv[] = VGG16_STAGES.flat();

/**
 * Alias prefix (`conv3.4`) → VGG16 `features` index (14), in PyTorch's state-dict order. The authors write
 * `self.conv1 = nn.Sequential(self.encoder[0], self.relu, self.encoder[2], self.relu)` and so on, so each encoder
 * convolution is also the child `convK.{0,2,4}` of a Sequential (ReLUs at the odd positions), and PyTorch's
 * state_dict lists it under both names.
 */
export const UNET16_ENCODER_ALIASES: Readonly<Record<string, number>> = Object.fromEntries(
  VGG16_STAGES.flatMap((stage, s) => stage.map(({ index }, j) => [`conv${s + 1}.${2 * j}`, index] as const)),
);

export interface UNet16Options {
  /** Seed of PyTorch-default (LeCun-uniform-like) initialisation; see init.ts for the paper's schemes. */
  seed?: number;
  /** `num_filters` of the authors' constructor (default 32): the decoder's width. */
  numFilters?: number;
  /** `is_deconv` (default false: bilinear upsampling). */
  deconv?: boolean;
  device?: Device;
}

/**
 * DecoderBlockV2(in, mid, out, is_deconv). Its `block` is an nn.Sequential: children 0 Interpolate (no
 * parameters), 1 ConvRelu(in, mid), 2 ConvRelu(mid, out); or, with is_deconv, 0 ConvRelu(in, mid),
 * 1 ConvTranspose2d(mid, out, 4, 2, 1), 2 ReLU.
 */
export class DecoderBlockV2 extends Module {
  readonly deconv: boolean;
  private readonly first: ConvRelu;
  private readonly second: ConvRelu | null;
  private readonly up: ConvTranspose2d | null;

  constructor(cin: number, mid: number, cout: number, deconv: boolean, rng: Rng, device?: Device) {
    super();
    this.deconv = deconv;
    const block = this.registerModule('block', new ModuleList());
    const dev = device ? { device } : {};
    if (deconv) {
      this.first = block.add('0', new ConvRelu(cin, mid, rng, device));
      this.up = block.add('1', new ConvTranspose2d(mid, cout, { rng, kernelSize: 4, ...dev }));
      this.second = null;
    } else {
      this.first = block.add('1', new ConvRelu(cin, mid, rng, device));
      this.second = block.add('2', new ConvRelu(mid, cout, rng, device));
      this.up = null;
    }
  }

  /** `x`: one tensor or the channel segments of `cat(x, 1)`. */
  forward(x: Tensor | readonly Tensor[]): Tensor {
    if (this.up) {
      const h = this.first.forward(x);
      const y = this.up.forward(h, { relu: true });
      h.dispose();
      return y;
    }
    const segments = Array.isArray(x) ? (x as readonly Tensor[]) : [x as Tensor];
    const upsampled = segments.map((s) => upsampleBilinear2x(s));
    const h = this.first.forward(upsampled);
    for (const u of upsampled) u.dispose();
    const y = this.second!.forward(h);
    h.dispose();
    return y;
  }
}

export class UNet16 extends VggUNet {
  readonly deconv: boolean;
  readonly center: DecoderBlockV2;
  readonly dec5: DecoderBlockV2;
  readonly dec4: DecoderBlockV2;
  readonly dec3: DecoderBlockV2;
  readonly dec2: DecoderBlockV2;
  readonly dec1: ConvRelu;
  readonly final: Conv2d;
  readonly encoderAliases = UNET16_ENCODER_ALIASES;

  constructor(options: UNet16Options = {}) {
    const f = options.numFilters ?? 32;
    if (!Number.isInteger(f) || f < 1) {
      throw new RangeError(`UNet16: numFilters must be a positive integer, got ${f}`);
    }
    const rng = new Rng(options.seed ?? 0);
    const device = options.device;
    super('UNet16', VGG16_STAGES, f, rng, device);
    const deconv = options.deconv ?? false;
    this.deconv = deconv;
    const block = (cin: number, mid: number, cout: number) => new DecoderBlockV2(cin, mid, cout, deconv, rng, device);
    this.center = this.registerModule('center', block(512, f * 8 * 2, f * 8));
    this.dec5 = this.registerModule('dec5', block(512 + f * 8, f * 8 * 2, f * 8));
    this.dec4 = this.registerModule('dec4', block(512 + f * 8, f * 8 * 2, f * 8));
    this.dec3 = this.registerModule('dec3', block(256 + f * 8, f * 4 * 2, f * 2));
    this.dec2 = this.registerModule('dec2', block(128 + f * 2, f * 2 * 2, f));
    this.dec1 = this.registerModule('dec1', new ConvRelu(64 + f, f, rng, device));
    this.final = this.registerModule('final', new Conv2d(f, 1, 1, { rng, ...(device ? { device } : {}) }));
  }
}
