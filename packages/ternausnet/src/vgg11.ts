/**
 * VGG11 as an image classifier: torchvision's `vgg11().features` (eight 3×3 convolutions + ReLU, five 2×2
 * max-pools; the same layers UNet11 uses as its encoder) and a small head, a 1×1 convolution from the 512
 * features to the class logits applied at every position of the last feature map (a fully convolutional
 * classifier; torchvision's three-layer 4096-wide head would be 120 M parameters for a job this small).
 *
 * It exists to pre-train the encoder here (`ternausnet pretrain-encoder`): its state dict is written with
 * torchvision's names (`features.N.weight`, `classifier.*`), so the file loads through exactly the path a real
 * ImageNet VGG11 file takes.
 */
import { Conv2d, type Device, Module, ModuleList, maxPool2x2, Rng, type Tensor, writeData } from '@ternausnet/tensor';
import { VGG11_CONVS } from './unet11.ts';

/** The `features` indices after which VGG11 max-pools (its `M` entries sit at index + 2, or +1 after a ReLU). */
const POOL_AFTER = new Set([0, 3, 8, 13, 18]);

export interface Vgg11ClassifierOptions {
  classes: number;
  seed?: number;
  device?: Device;
}

export class Vgg11Classifier extends Module {
  readonly features: Conv2d[];
  readonly classifier: Conv2d;

  constructor(options: Vgg11ClassifierOptions) {
    super();
    if (!Number.isInteger(options.classes) || options.classes < 2) {
      throw new RangeError(`Vgg11Classifier: classes must be an integer ≥ 2, got ${options.classes}`);
    }
    const rng = new Rng(options.seed ?? 0);
    const dev = options.device ? { device: options.device } : {};
    const features = this.registerModule('features', new ModuleList());
    this.features = VGG11_CONVS.map(({ index, cin, cout }) =>
      features.add(String(index), new Conv2d(cin, cout, 3, { rng, ...dev })),
    );
    this.classifier = this.registerModule('classifier', new Conv2d(512, options.classes, 1, { rng, ...dev }));
    // torchvision's VGG._initialize_weights, the initialisation its ImageNet weights were trained from:
    // convolutions kaiming_normal_(mode='fan_out', nonlinearity='relu') with zero bias, the linear head N(0, 0.01).
    const normal = (n: number, std: number) => Float32Array.from({ length: n }, () => rng.normal() * std);
    for (const conv of this.features) {
      const fanOut = conv.outChannels * 9;
      writeData(conv.weight, normal(conv.weight.size, Math.sqrt(2 / fanOut)));
      writeData(conv.bias!, new Float32Array(conv.bias!.size));
    }
    writeData(this.classifier.weight, normal(this.classifier.weight.size, 0.01));
    writeData(this.classifier.bias!, new Float32Array(options.classes));
  }

  /**
   * Class logits at every position of the last feature map: [N, classes, H/32, W/32] for an ImageNet-normalised
   * batch [N, 3, H, W] (H, W multiples of 32). The image's logits are their mean over positions.
   */
  forward(x: Tensor): Tensor {
    let h = x;
    this.features.forEach((conv, i) => {
      const y = conv.forward(h, { relu: true });
      if (h !== x) h.dispose();
      h = y;
      if (POOL_AFTER.has(VGG11_CONVS[i]!.index)) {
        const p = maxPool2x2(h);
        h.dispose();
        h = p;
      }
    });
    const logits = this.classifier.forward(h);
    h.dispose();
    return logits;
  }
}
