/**
 * UNet11 (TernausNet): a U-Net whose encoder is VGG11's convolutional part, exactly as ternaus/TernausNet's
 * `UNet11(num_filters=32)`. Parameter names and layouts are PyTorch's state-dict keys.
 *
 * Every ReLU is fused into the convolution before it, and every skip connection `cat([decoder, encoder], 1)` is
 * a convolution over two channel segments, so no concatenated tensor is ever materialised.
 */
import { Conv2d, ConvTranspose2d, type Device, Module, ModuleList, Rng, type Tensor } from '@ternausnet/tensor';
import { ConvRelu, type VggConfig, type VggConv, VggUNet, vggStages } from './unet.ts';

/** VGG11 (torchvision's configuration 'A'): eight 3×3 convolutions in five stages. */
const VGG11_CFG: VggConfig = [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'];
const VGG11_STAGES = vggStages(VGG11_CFG);

/** The VGG11 `features` indices of its eight convolutions (0, 3, 6, 8, 11, 13, 16, 18), and their channels. */
export const VGG11_CONVS: readonly VggConv[] = VGG11_STAGES.flat();

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

export class UNet11 extends VggUNet {
  readonly center: DecoderBlock;
  readonly dec5: DecoderBlock;
  readonly dec4: DecoderBlock;
  readonly dec3: DecoderBlock;
  readonly dec2: DecoderBlock;
  readonly dec1: ConvRelu;
  readonly final: Conv2d;
  readonly encoderAliases: Readonly<Record<string, number>> = ENCODER_ALIASES;

  constructor(options: UNet11Options = {}) {
    const f = options.numFilters ?? 32;
    if (f !== 32) {
      // The authors' UNet11 takes num_filters, but its centre block expects num_filters·16 input channels where
      // VGG11 gives 512: PyTorch fails at the first forward for any other value. Say so now.
      throw new RangeError(
        `UNet11: numFilters ${f} cannot work (ternaus' UNet11 feeds VGG11's 512 channels into a centre block ` +
          `built for numFilters·16 inputs, so only 32 fits); use UNet16 for other decoder widths`,
      );
    }
    const rng = new Rng(options.seed ?? 0);
    const device = options.device;
    super('UNet11', VGG11_STAGES, f, rng, device);
    this.center = this.registerModule('center', new DecoderBlock(f * 16, f * 16, f * 8, rng, device));
    this.dec5 = this.registerModule('dec5', new DecoderBlock(f * (16 + 8), f * 16, f * 8, rng, device));
    this.dec4 = this.registerModule('dec4', new DecoderBlock(f * (16 + 8), f * 16, f * 4, rng, device));
    this.dec3 = this.registerModule('dec3', new DecoderBlock(f * (8 + 4), f * 8, f * 2, rng, device));
    this.dec2 = this.registerModule('dec2', new DecoderBlock(f * (4 + 2), f * 4, f, rng, device));
    this.dec1 = this.registerModule('dec1', new ConvRelu(f * (2 + 1), f, rng, device));
    this.final = this.registerModule('final', new Conv2d(f, 1, 1, { rng, ...(device ? { device } : {}) }));
  }
}
