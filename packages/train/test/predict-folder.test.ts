/**
 * `ternausnet predict --input DIR|GLOB --out DIR`: every image's mask equals the library's predict(), the
 * architecture is read from the checkpoint, an unreadable file is reported and skipped with exit status 1, a
 * partial run (a glob) and a killed run are resumed (finished masks skipped, stale temp files removed).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { predict, saveWeights, UNet16 } from '@ternausnet/model';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { useTestDevice } from '../../../test/support/gpu.ts';
import { image } from '../../../test/support/images.ts';
import { cliEnv, ternausnet } from './cli.ts';

const root = new URL('../../..', import.meta.url).pathname;
const bin = join(root, 'packages/train/bin/ternausnet.mjs');

const SIZES: [string, number, number][] = [
  ['a1', 40, 30],
  ['a2', 64, 33],
  ['b1', 70, 40],
  // Large enough that the killed run cannot finish it in the moment between b1's mask and the kill.
  ['b2', 160, 128],
  ['b3', 33, 64],
];

async function maskBits(path: string): Promise<Uint8Array> {
  const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
  return Uint8Array.from({ length: info.width * info.height }, (_, i) => (data[i * info.channels]! > 0 ? 1 : 0));
}

describe('ternausnet predict over a folder', () => {
  useTestDevice();

  it('predicts every image, reports the broken one, resumes after a partial run and after a kill', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'predict-folder-'));
    const input = join(dir, 'images');
    mkdirSync(input);
    const model = new UNet16({ seed: 3, numFilters: 8 });
    const weights = join(dir, 'unet16.safetensors');
    await saveWeights(model, weights);
    const want = new Map<string, Uint8Array>();
    for (const [name, w, h] of SIZES) {
      const img = image(w, h, name.charCodeAt(1));
      await sharp(Buffer.from(img.data), { raw: { width: w, height: h, channels: 3 } })
        .png()
        .toFile(join(input, `${name}.png`));
      want.set(name, (await predict(model, img)).mask);
    }
    model.dispose();
    writeFileSync(join(input, 'broken.png'), 'this is not a PNG');
    writeFileSync(join(input, 'notes.txt'), 'not an image: ignored');
    const out = join(dir, 'masks');
    const args = (inputArg: string) => ['predict', '--weights', weights, '--input', inputArg, '--out', out];

    // A partial run: the glob selects a1, a2.
    const partial = await ternausnet(args(join(input, 'a?.png')));
    expect(partial.code, partial.out).toBe(0);
    expect(partial.out).toMatch(/UNet16 \(num_filters 8, bilinear-upsampling decoder\)/);
    expect(partial.out).toMatch(/2 images .*0 already done.*2 to predict/);
    expect(readdirSync(out).sort()).toEqual(['a1.png', 'a2.png']);

    // The whole folder, killed as soon as its first new mask is written (a stale temp file is planted as well).
    writeFileSync(join(out, '.b3.png.999.123.tmp'), 'half a PNG');
    const child = spawn(process.execPath, [bin, ...args(input)], { cwd: root, env: cliEnv });
    let log = '';
    child.stdout.on('data', (d) => (log += d));
    child.stderr.on('data', (d) => (log += d));
    const killed = await new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      const poll = setInterval(() => {
        if (existsSync(join(out, 'b1.png'))) child.kill('SIGKILL');
      }, 20);
      child.on('close', (code, signal) => {
        clearInterval(poll);
        resolve({ code, signal });
      });
    });
    expect(killed.signal, log).toBe('SIGKILL');
    expect(log).toMatch(/6 images .*2 already done.*4 to predict/);
    expect(existsSync(join(out, 'b2.png'))).toBe(false);

    const resumed = await ternausnet(args(input));
    expect(resumed.code, resumed.out).toBe(1);
    expect(resumed.out).toMatch(/6 images .*3 already done.*3 to predict/);
    expect(resumed.out).toMatch(/failed: .*broken\.png/);
    expect(resumed.out).toMatch(/predicted 2 images .* Mpx\/s.*3 skipped \(already done\), 1 failed/);
    expect(resumed.out).toMatch(/1 of 6 images failed/);
    expect(readdirSync(out).sort()).toEqual(['a1.png', 'a2.png', 'b1.png', 'b2.png', 'b3.png']);
    for (const [name, bits] of want) expect(await maskBits(join(out, `${name}.png`)), name).toEqual(bits);

    const again = await ternausnet(args(input));
    expect(again.out).toMatch(/5 already done.*1 to predict/);
  });

  it('flip TTA gives the mean of the four flipped predictions', async () => {
    const model = new UNet16({ seed: 5, numFilters: 8, deconv: true });
    // Sides multiple of 32: no padding, so mirroring the image mirrors the whole network input.
    const img = image(64, 32, 4);
    const plain = await predict(model, img);
    const tta = await predict(model, img, { tta: true });
    // The mean over flips of a network that is not flip-invariant differs from the plain prediction, but only a
    // little (same weights, mirrored inputs); the identity pass is one of the four.
    let diff = 0;
    for (let i = 0; i < plain.probabilities.length; i++) {
      diff = Math.max(diff, Math.abs(plain.probabilities[i]! - tta.probabilities[i]!));
    }
    expect(diff).toBeGreaterThan(0);
    // Flipping the input image horizontally flips the TTA prediction exactly (the flip set is closed).
    const [W, H] = [64, 32];
    const mirrored = new Uint8Array(img.data.length);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        for (let c = 0; c < 3; c++) mirrored[(y * W + x) * 3 + c] = img.data[(y * W + (W - 1 - x)) * 3 + c]!;
    const ttaMirrored = await predict(model, { data: mirrored, width: W, height: H }, { tta: true });
    let worst = 0;
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        worst = Math.max(
          worst,
          Math.abs(ttaMirrored.probabilities[y * W + x]! - tta.probabilities[y * W + W - 1 - x]!),
        );
      }
    // Equal up to float32 summation order (the four terms are added in a different order).
    expect(worst).toBeLessThan(1e-6);
    model.dispose();
  });
});
