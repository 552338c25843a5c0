/**
 * `--peer tfjs`: TensorFlow.js 4.22's WebGPU backend on the same Dawn instance and adapter as ours, in the same
 * process and run, doing the same work: every UNet11 layer's kernels (`kernels`) and the whole model's forward
 * and Adam training step (`model`, alternated run by run with ours: `benchModelAgainstPeer`). TF.js is NHWC; each
 * library runs in its own native layout. Timing is wall clock from the first encoded command to
 * `onSubmittedWorkDone` for both sides (TF.js exposes no timestamps of ours), so the ratios compare like with like.
 * Only ratios from one run mean anything on a noisy machine.
 */
import { register } from 'node:module';
import type * as TF from '@tensorflow/tfjs-core';
import { awaitDawn, type Device } from '@ternausnet/tensor';
import type { KernelRow } from './kernels.ts';
import { cin, type LayerShape, unet11Layers } from './layers.ts';
import type { ModelPeer } from './model.ts';
import { summarize, type Timing } from './timing.ts';

type Tf = typeof TF;

interface WebGPUBackendLike {
  device: GPUDevice;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

export interface PeerRow {
  layer: string;
  kernel: string;
  peer: Timing;
  /** Our wall-clock median over the peer's: below 1 means we are faster. */
  ratio: number | null;
}

export interface PeerResult {
  library: string;
  rows: PeerRow[];
}

async function loadTf(device: Device): Promise<{ tf: Tf; sync: () => Promise<void> }> {
  // TF.js finds WebGPU through navigator.gpu: hand it our Dawn instance, so it gets the same adapter.
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: device.gpu }, configurable: true, writable: true });
  const tf = await import('@tensorflow/tfjs-core');
  // The gradients live in a side-effect ES module (the tfjs umbrella package imports it; tfjs-core alone does
  // not) whose imports Node cannot resolve without help; it registers into the same global registry.
  register('./tfjs-resolve-hook.mjs', import.meta.url);
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('--peer tfjs: the TF.js WebGPU backend did not initialise');
  await tf.ready();
  const backend = tf.backend() as unknown as WebGPUBackendLike;
  return {
    tf,
    // What TF.js itself does before a read-back: close the pass, submit the encoder.
    sync: async () => {
      backend.ensureCommandEncoderReady();
      backend.endComputePassEncoder();
      backend.submitQueue();
      await awaitDawn(backend.device.queue.onSubmittedWorkDone());
    },
  };
}

/** Wall-clock ms of one run of `run`, from an idle queue to its work done. */
async function timeOnce(tf: Tf, sync: () => Promise<void>, run: () => TF.TensorContainer | undefined): Promise<number> {
  await sync();
  const t0 = performance.now();
  const out = tf.tidy(run);
  await sync();
  const ms = performance.now() - t0;
  tf.dispose(out);
  return ms;
}

async function timePeer(
  tf: Tf,
  sync: () => Promise<void>,
  run: () => TF.TensorContainer | undefined,
  runs: number,
  warmup: number,
): Promise<Timing> {
  const samples: number[] = [];
  for (let i = 0; i < warmup + runs; i++) {
    const ms = await timeOnce(tf, sync, run);
    if (i >= warmup) samples.push(ms);
  }
  return summarize(samples, 'wall-clock');
}

/** The TF.js calls of one layer (NHWC), as (kernel name, work) pairs matching our KernelRow names. */
function layerWork(tf: Tf, l: LayerShape, operands: TF.Tensor[]): { kernel: string; run: () => TF.Tensor }[] {
  const { batch: N, height: H, width: W, cout } = l;
  const C = cin(l);
  const r = (shape: number[]) => {
    const t = tf.randomUniform(shape, -1, 1);
    operands.push(t);
    return t;
  };
  if (l.kind === 'conv3x3' || l.kind === 'conv1x1') {
    const k = l.kind === 'conv3x3' ? 3 : 1;
    const name = l.kind === 'conv3x3' ? 'conv3x3' : 'conv1x1';
    // A decoder convolution reads the concatenation [decoder, encoder]; TF.js needs it materialised.
    const xs = l.segments.map((c) => r([N, H, W, c]));
    const x = xs.length === 1 ? xs[0]! : tf.concat(xs, 3);
    if (xs.length > 1) operands.push(x);
    const w = r([k, k, C, cout]);
    const b = r([cout]);
    const dy = r([N, H, W, cout]);
    const x4 = x as TF.Tensor4D;
    const dy4 = dy as TF.Tensor4D;
    return [
      {
        kernel: `${name}Forward`,
        run: () =>
          tf.fused.conv2d({ x: x4, filter: w as TF.Tensor4D, bias: b, strides: 1, pad: 'same', activation: 'relu' }),
      },
      {
        kernel: `${name}Dgrad`,
        run: () => tf.conv2dTranspose(dy4, w as TF.Tensor4D, [N, H, W, C], 1, 'same'),
      },
      {
        kernel: `${name}Wgrad`,
        run: () =>
          tf.engine().runKernel(
            'Conv2DBackpropFilter',
            { x: x4, dy: dy4 },
            {
              strides: 1,
              pad: 'same',
              dataFormat: 'NHWC',
              filterShape: [k, k, C, cout],
            },
          ) as TF.Tensor,
      },
    ];
  }
  if (l.kind === 'convTranspose3x3s2') {
    const x = r([N, H, W, C]) as TF.Tensor4D;
    // tf.conv2dTranspose filter: [kh, kw, outChannels, inChannels].
    const w = r([3, 3, cout, C]) as TF.Tensor4D;
    const b = r([cout]);
    return [
      {
        kernel: 'convTranspose3x3s2Forward',
        run: () => tf.relu(tf.add(tf.conv2dTranspose(x, w, [N, 2 * H, 2 * W, cout], 2, 'same'), b)),
      },
    ];
  }
  const x = r([N, H, W, C]) as TF.Tensor4D;
  return [{ kernel: 'maxPool2x2Forward', run: () => tf.maxPool(x, 2, 2, 'valid') }];
}

/** UNet11 in TF.js (NHWC), the same layers, skips and loss as ours; weights U(±1/√fan_in). */
function tfUNet11(tf: Tf, batch: number, size: number) {
  const vars: TF.Variable[] = [];
  const param = (shape: number[], fanIn: number) => {
    const bound = 1 / Math.sqrt(fanIn);
    const v = tf.variable(tf.randomUniform(shape, -bound, bound));
    vars.push(v);
    return v;
  };
  const conv = (c0: number, c1: number, k = 3) => {
    const w = param([k, k, c0, c1], c0 * k * k) as TF.Variable<TF.Rank.R4>;
    const b = param([c1], c0 * k * k);
    return (x: TF.Tensor4D, relu = true) =>
      tf.fused.conv2d({ x, filter: w, bias: b, strides: 1, pad: 'same', activation: relu ? 'relu' : 'linear' });
  };
  const up = (c0: number, c1: number) => {
    const w = param([3, 3, c1, c0], c1 * 9) as TF.Variable<TF.Rank.R4>;
    const b = param([c1], c1 * 9);
    return (x: TF.Tensor4D) => {
      const [n, h, wd] = x.shape;
      return tf.relu(tf.add(tf.conv2dTranspose(x, w, [n, 2 * h, 2 * wd, c1], 2, 'same'), b)) as TF.Tensor4D;
    };
  };
  const decoder = (c0: number, mid: number, c1: number) => {
    const c = conv(c0, mid);
    const u = up(mid, c1);
    return (x: TF.Tensor4D) => u(c(x));
  };
  const enc = [
    conv(3, 64),
    conv(64, 128),
    conv(128, 256),
    conv(256, 256),
    conv(256, 512),
    conv(512, 512),
    conv(512, 512),
    conv(512, 512),
  ];
  const center = decoder(512, 512, 256);
  const dec5 = decoder(768, 512, 256);
  const dec4 = decoder(768, 512, 128);
  const dec3 = decoder(384, 256, 64);
  const dec2 = decoder(192, 128, 32);
  const dec1 = conv(96, 32);
  const final = conv(32, 1, 1);
  const pool = (x: TF.Tensor4D) => tf.maxPool(x, 2, 2, 'valid');
  const cat = (a: TF.Tensor4D, b: TF.Tensor4D) => tf.concat([a, b], 3);
  const forward = (x: TF.Tensor4D) => {
    const c1 = enc[0]!(x);
    const c2 = enc[1]!(pool(c1));
    const c3 = enc[3]!(enc[2]!(pool(c2)));
    const c4 = enc[5]!(enc[4]!(pool(c3)));
    const c5 = enc[7]!(enc[6]!(pool(c4)));
    const ce = center(pool(c5));
    const d5 = dec5(cat(ce, c5));
    const d4 = dec4(cat(d5, c4));
    const d3 = dec3(cat(d4, c3));
    const d2 = dec2(cat(d3, c2));
    const d1 = dec1(cat(d2, c1));
    return final(d1, false);
  };
  const x = tf.randomNormal([batch, size, size, 3]) as TF.Tensor4D;
  const y = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([batch, size, size, 1]), 0.5), 'float32'));
  const loss = () => {
    const z = forward(x);
    // BCE with logits (mean) − log(soft Jaccard), as ours.
    const bce = tf.mean(tf.add(tf.sub(tf.relu(z), tf.mul(z, y)), tf.log1p(tf.exp(tf.neg(tf.abs(z))))));
    const p = tf.sigmoid(z);
    const inter = tf.sum(tf.mul(p, y));
    const union = tf.sub(tf.add(tf.sum(p), tf.sum(y)), inter);
    return tf.sub(bce, tf.log(tf.div(tf.add(inter, 1e-15), tf.add(union, 1e-15)))) as TF.Scalar;
  };
  return { forward: () => forward(x), loss, vars, dispose: () => tf.dispose([x, y, ...vars]) };
}

/** `--peer tfjs` for `kernels`: every UNet11 layer's kernels, timed after ours, with our/peer ratios. */
export async function runTfjsPeer(
  device: Device,
  o: { size: number; batch: number; runs: number; warmup: number; ours: Record<string, unknown> },
): Promise<PeerResult> {
  const { tf, sync } = await loadTf(device);
  const result: PeerResult = { library: `TensorFlow.js ${tf.version_core} (webgpu backend)`, rows: [] };
  const ours = (o.ours.kernels as KernelRow[] | undefined) ?? [];
  for (const l of unet11Layers(o.size, o.batch)) {
    const operands: TF.Tensor[] = [];
    const work = layerWork(tf, l, operands);
    for (const w of work) {
      const mine = ours.find((r) => r.layer === l.name && r.kernel === w.kernel);
      if (ours.length > 0 && !mine) continue; // filtered out of our run
      const peer = await timePeer(tf, sync, w.run, o.runs, o.warmup);
      result.rows.push({
        layer: l.name,
        kernel: w.kernel,
        peer,
        ratio: mine ? mine.timing.wallMedian / peer.median : null,
      });
    }
    tf.dispose(operands);
  }
  return result;
}

/**
 * `--peer tfjs` for `model`: TF.js's UNet11 on our adapter, one forward or Adam step per call, for
 * `benchModelAgainstPeer` to alternate with ours.
 */
export async function startTfjsModelPeer(device: Device, size: number, batch: number): Promise<ModelPeer> {
  const { tf, sync } = await loadTf(device);
  const net = tfUNet11(tf, batch, size);
  const opt = tf.train.adam(1e-3);
  const step = () => {
    opt.minimize(net.loss, false, net.vars);
    return undefined;
  };
  return {
    library: `TensorFlow.js ${tf.version_core} (webgpu backend)`,
    run: (work) => timeOnce(tf, sync, work === 'forward' ? net.forward : step),
    close() {
      net.dispose();
      opt.dispose();
    },
  };
}
