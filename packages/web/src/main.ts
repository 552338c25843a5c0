/**
 * The page: pick or drop an image and a UNet11/UNet16 weights file (safetensors with PyTorch names) or give their URLs,
 * segment with tiled prediction on the browser's WebGPU (the library's own kernels), and show the image, the
 * mask overlay at an adjustable threshold, the probability heat map, the time and the adapter.
 *
 * Unattended (tests, scripts): `?weights=URL&image=URL[&tile=N]` runs without clicks; when finished
 * `document.body.dataset.state` is 'done' (or 'error', with the message shown) and `window.ternausnetResult`
 * holds `{ width, height, probabilities }` (Float32Array, H×W row-major). `&kernels=cpu|gpu` and
 * `&variants=conv3x3=direct,...` force the kernel choice.
 */
import {
  buildModel,
  describeArchitecture,
  detectArchitecture,
  loadStateDict,
  type Prediction,
  parseSafetensors,
  predict,
  type RgbImage,
  type TernausNetModel,
} from '@ternausnet/model';
import { type Device, type DeviceOptions, initDevice, parseVariantOverrides } from '@ternausnet/tensor';
import { drawHeatMap, drawImage, drawOverlay, maskPng } from './render.ts';

declare global {
  interface Window {
    ternausnetResult?: { width: number; height: number; probabilities: Float32Array };
  }
}

const $ = <T extends HTMLElement>(id: string) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page is missing #${id}`);
  return el as T;
};

const ui = {
  imageFile: $<HTMLInputElement>('image-file'),
  imageUrl: $<HTMLInputElement>('image-url'),
  weightsFile: $<HTMLInputElement>('weights-file'),
  weightsUrl: $<HTMLInputElement>('weights-url'),
  tile: $<HTMLInputElement>('tile'),
  run: $<HTMLButtonElement>('run'),
  progress: $<HTMLProgressElement>('progress'),
  threshold: $<HTMLInputElement>('threshold'),
  thresholdValue: $<HTMLOutputElement>('threshold-value'),
  download: $<HTMLButtonElement>('download'),
  status: $<HTMLElement>('status'),
  time: $<HTMLElement>('time'),
  adapter: $<HTMLElement>('adapter'),
  drop: $<HTMLElement>('drop'),
  imageCanvas: $<HTMLCanvasElement>('image-canvas'),
  overlayCanvas: $<HTMLCanvasElement>('overlay-canvas'),
  heatCanvas: $<HTMLCanvasElement>('heat-canvas'),
};

const params = new URLSearchParams(location.search);
let droppedImage: Blob | null = null;
let droppedWeights: { bytes: Uint8Array; name: string } | null = null;
let device: Device | null = null;
let model: { bytes: Uint8Array; net: TernausNetModel; architecture: string } | null = null;
let last: { image: RgbImage; prediction: Prediction } | null = null;

function setState(state: 'idle' | 'running' | 'done' | 'error', message: string): void {
  document.body.dataset.state = state;
  ui.status.textContent = message;
  ui.status.dataset.kind = state;
}

async function fetchBytes(url: string, what: string): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url, { mode: 'cors' });
  } catch (e) {
    throw new Error(`cannot fetch the ${what} from ${url} (${(e as Error).message}; the server must allow CORS)`);
  }
  if (!response.ok) throw new Error(`the ${what} at ${url}: HTTP ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** 8-bit RGB pixels exactly as stored in the file: no colour-space conversion, no premultiplied alpha. */
async function decodeImage(blob: Blob): Promise<RgbImage> {
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const { width, height } = bitmap;
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('this browser gives no 2D canvas context');
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(rgba.subarray(4 * i, 4 * i + 3), 3 * i);
  return { data, width, height };
}

async function imageSource(): Promise<{ blob: Blob; name: string }> {
  const file = ui.imageFile.files?.[0];
  if (file) return { blob: file, name: file.name };
  if (droppedImage) return { blob: droppedImage, name: 'dropped image' };
  const url = ui.imageUrl.value.trim();
  if (url) return { blob: new Blob([(await fetchBytes(url, 'image')) as BlobPart]), name: url };
  throw new Error('no image: pick a file, drop one here, or give a URL');
}

async function weightsSource(): Promise<{ bytes: Uint8Array; name: string }> {
  const file = ui.weightsFile.files?.[0];
  if (file) return { bytes: new Uint8Array(await file.arrayBuffer()), name: file.name };
  if (droppedWeights) return droppedWeights;
  const url = ui.weightsUrl.value.trim();
  if (url) return { bytes: await fetchBytes(url, 'weights'), name: url };
  throw new Error('no weights: pick a .safetensors file, drop one here, or give a URL');
}

async function loadModel(weights: { bytes: Uint8Array; name: string }, dev: Device): Promise<TernausNetModel> {
  // The same bytes (a dropped file, segmented again at another tile size) keep their model; anything else loads.
  if (model?.bytes === weights.bytes) return model.net;
  model?.net.dispose();
  model = null;
  const file = parseSafetensors(weights.bytes, weights.name);
  // UNet11 or UNet16 (either decoder, any num_filters), read off the state dict's keys and shapes.
  const architecture = detectArchitecture(file.tensors, weights.name);
  const net = buildModel(architecture, { device: dev });
  try {
    loadStateDict(net, file.tensors, weights.name);
  } catch (e) {
    net.dispose();
    throw e;
  }
  model = { bytes: weights.bytes, net, architecture: describeArchitecture(architecture) };
  return net;
}

/** `?kernels=cpu|gpu` and `?variants=conv3x3=direct,...` force the kernel choice (for comparisons). */
function deviceOptions(): DeviceOptions {
  const options: DeviceOptions = {};
  const kernels = params.get('kernels');
  if (kernels !== null) {
    if (kernels !== 'cpu' && kernels !== 'gpu') throw new Error(`?kernels= must be 'cpu' or 'gpu', got '${kernels}'`);
    options.kernels = kernels;
  }
  const variants = params.get('variants');
  if (variants) options.variants = parseVariantOverrides(variants, '?variants=');
  return options;
}

function render(): void {
  if (!last) return;
  const threshold = Number(ui.threshold.value);
  ui.thresholdValue.textContent = threshold.toFixed(2);
  const { image, prediction } = last;
  drawOverlay(ui.overlayCanvas, image, prediction.probabilities, threshold);
}

async function segment(): Promise<void> {
  ui.run.disabled = true;
  ui.download.disabled = true;
  ui.progress.value = 0;
  try {
    setState('running', 'loading…');
    const tile = Number(ui.tile.value);
    if (!Number.isInteger(tile) || tile < 32 || tile % 32 !== 0) {
      throw new Error(`tile must be a positive multiple of 32, got '${ui.tile.value}'`);
    }
    const [imageFile, weights] = await Promise.all([imageSource(), weightsSource()]);
    const image = await decodeImage(imageFile.blob);
    drawImage(ui.imageCanvas, image);
    device ??= await initDevice(deviceOptions());
    ui.adapter.textContent = `adapter: ${device.adapterName}`;
    const net = await loadModel(weights, device);
    ui.adapter.textContent = `adapter: ${device.adapterName}; model: ${model?.architecture}`;
    setState('running', `segmenting ${image.width}×${image.height}…`);
    const t0 = performance.now();
    const prediction = await predict(net, image, {
      tile,
      threshold: Number(ui.threshold.value),
      onProgress: (done, total) => {
        ui.progress.max = total;
        ui.progress.value = done;
        ui.status.textContent = `segmenting ${image.width}×${image.height}: tile ${done} of ${total}`;
      },
    });
    const ms = performance.now() - t0;
    last = { image, prediction };
    render();
    drawHeatMap(ui.heatCanvas, prediction.width, prediction.height, prediction.probabilities);
    ui.time.textContent = `time: ${(ms / 1000).toFixed(2)} s`;
    ui.download.disabled = false;
    window.ternausnetResult = {
      width: prediction.width,
      height: prediction.height,
      probabilities: prediction.probabilities,
    };
    setState('done', `done: ${image.width}×${image.height}`);
  } catch (e) {
    console.error(e);
    setState('error', `error: ${(e as Error).message}`);
  } finally {
    ui.run.disabled = false;
  }
}

ui.run.addEventListener('click', () => void segment());
ui.threshold.addEventListener('input', render);
ui.download.addEventListener('click', async () => {
  if (!last) return;
  const { prediction } = last;
  const blob = await maskPng(prediction.width, prediction.height, prediction.probabilities, Number(ui.threshold.value));
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = 'mask.png';
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
});
ui.drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  ui.drop.classList.add('over');
});
ui.drop.addEventListener('dragleave', () => ui.drop.classList.remove('over'));
ui.drop.addEventListener('drop', async (e) => {
  e.preventDefault();
  ui.drop.classList.remove('over');
  for (const file of e.dataTransfer?.files ?? []) {
    if (file.name.endsWith('.safetensors')) {
      droppedWeights = { bytes: new Uint8Array(await file.arrayBuffer()), name: file.name };
    } else droppedImage = file;
  }
  const missing = [droppedImage ? '' : 'an image', droppedWeights ? '' : 'a weights file'].filter(Boolean);
  if (missing.length === 0) void segment();
  else setState('idle', `dropped; still needed: ${missing.join(' and ')}`);
});

const tileParam = params.get('tile');
if (tileParam) ui.tile.value = tileParam;
const weightsParam = params.get('weights');
const imageParam = params.get('image');
if (weightsParam) ui.weightsUrl.value = weightsParam;
if (imageParam) ui.imageUrl.value = imageParam;
if (weightsParam && imageParam) void segment();
else setState('idle', ui.status.textContent ?? '');
