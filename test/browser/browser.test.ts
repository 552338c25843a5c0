/**
 * The library in real browsers, on their WebGPU: (a) conv3x3, transposed conv and max-pool, forward and backward,
 * against the float64 references under every kernel variant each adapter can run; (b) the web page, driven
 * through its URL hooks, segments an image and its UNet11 probabilities match Node's (Dawn) on the same weights
 * and image within 1e-5. Chromium (SwiftShader: a CPU adapter with 4-lane subgroups) and Firefox (the system
 * lavapipe, no subgroups). Sizes are small: browser adapters are slow. A browser that is not installed is reported
 * as not run (the tests are skipped, with what to install); `npm run setup` installs both on Debian as root.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadWeights, predict, type RgbImage, saveWeights, UNet11 } from '@ternausnet/model';
import type { Browser, Page } from 'puppeteer-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDevice } from '../support/gpu.ts';
import { BROWSERS, launch } from './browsers.ts';
import type { OpCheck } from './op-checks.ts';

const root = new URL('../..', import.meta.url).pathname;
const SEED = Number(process.env.TEST_SEED ?? Math.floor(Math.random() * 1e9));
// 64×48 in tiles of 32 (overlap 8): six tiles, so the tile blending runs too.
const WIDTH = 64;
const HEIGHT = 48;
const TILE = 32;
/** Node and the browsers run different kernel variants (summation orders): float32 rounding, far below this. */
const PARITY_ATOL = 1e-5;

/** A scene with structure (a bright roof-like block, a road, a gradient), so the network's output varies. */
function scene(): RgbImage {
  const data = new Uint8Array(WIDTH * HEIGHT * 3);
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) {
      const roof = x > 12 && x < 34 && y > 8 && y < 28;
      const road = Math.abs(x - y - 10) < 4;
      const i = 3 * (y * WIDTH + x);
      data[i] = roof ? 200 : road ? 90 : 40 + 2 * x;
      data[i + 1] = roof ? 70 : road ? 90 : 80 + y;
      data[i + 2] = roof ? 60 : road ? 95 : 50 + ((x * y) % 40);
    }
  }
  return { data, width: WIDTH, height: HEIGHT };
}

async function waitForState(page: Page, timeoutMs: number): Promise<string> {
  await page.waitForFunction(() => ['done', 'error'].includes(document.body?.dataset.state ?? ''), {
    timeout: timeoutMs,
    polling: 500,
  });
  return page.evaluate(() => document.body.dataset.state ?? '');
}

describe(`browsers (TEST_SEED=${SEED})`, () => {
  const device = useTestDevice();
  let dir = '';
  let server: { url: string; close(): Promise<void> } | null = null;
  let nodeProbabilities: Float32Array = new Float32Array(0);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ternausnet-browser-'));
    const web = join(dir, 'web');
    const files = join(dir, 'files');
    mkdirSync(files, { recursive: true });
    const { bundle } = (await import(join(root, 'packages/web/build.mjs'))) as {
      bundle(entries: Record<string, string>, outdir: string): Promise<void>;
    };
    await bundle({ app: join(root, 'packages/web/src/main.ts') }, web);
    copyFileSync(join(root, 'packages/web/index.html'), join(web, 'index.html'));
    await bundle({ ops: join(root, 'test/browser/ops-page.ts') }, files);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      join(files, 'ops.html'),
      '<!doctype html><meta charset="utf-8"><title>op checks</title><body><script type="module" src="./ops.js"></script>',
    );

    // The weights and image the page gets, and Node's prediction on them (the same tile size).
    const model = new UNet11({ seed: SEED % 100_000, device: device() });
    await saveWeights(model, join(files, 'unet11.safetensors'));
    model.dispose();
    const image = scene();
    await sharp(Buffer.from(image.data), { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
      .png()
      .toFile(join(files, 'scene.png'));
    const reloaded = new UNet11({ device: device() });
    await loadWeights(reloaded, join(files, 'unet11.safetensors'));
    nodeProbabilities = (await predict(reloaded, image, { tile: TILE })).probabilities;
    reloaded.dispose();

    const { serveStatic } = (await import(join(root, 'packages/web/serve.mjs'))) as {
      serveStatic(o: { root: string; mounts: Record<string, string>; port: number }): Promise<{
        url: string;
        close(): Promise<void>;
      }>;
    };
    server = await serveStatic({ root: web, mounts: { '/files/': files }, port: 0 });
  }, 180_000);

  afterAll(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const kind of BROWSERS) {
    const notRun = kind.executable ? '' : ` — NOT RUN: ${kind.name} is not installed (${kind.install})`;
    describe(`${kind.name}${notRun}`, { skip: !kind.executable }, () => {
      let browser: Browser | null = null;
      beforeAll(async () => {
        browser = await launch(kind);
      }, 60_000);
      afterAll(async () => {
        await browser?.close();
      });

      it('conv3x3, transposed conv and max-pool, forward and backward, match float64 under every runnable variant', async () => {
        const page = await browser!.newPage();
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(String(e)));
        await page.goto(`${server!.url}files/ops.html?seed=${SEED}`);
        const state = await waitForState(page, 240_000);
        const body = await page.evaluate(() => document.body.textContent ?? '');
        expect(state, `${body.slice(0, 2000)}\n${errors.join('\n')}`).toBe('done');
        const checks = (await page.evaluate(() => window.opChecks)) as {
          adapter: string;
          features: string[];
          results: OpCheck[];
        };
        await page.close();
        console.log(`[${kind.name}] adapter: ${checks.adapter}; ${checks.results.length} op checks`);
        // Every op ran, and every variant this adapter can run was checked (the subgroup ones need 'subgroups').
        const ran = new Set(checks.results.map((r) => `${r.op}[${r.variant ?? ''}]`));
        const subgroups = checks.features.includes('subgroups');
        const expected = [
          'conv3x3[direct]',
          'conv3x3[tiled]',
          ...(subgroups
            ? [
                'conv3x3[winograd-by-shape]',
                'conv3x3[subgroup]',
                'conv3x3[subgroup-r8]',
                'conv3x3[subgroup-1row]',
                'conv3x3[subgroup-2row]',
                'conv3x3[winograd]',
                'conv3x3[winograd-f4]',
                'convTranspose3x3s2[subgroup]',
              ]
            : []),
          'convTranspose3x3s2[direct]',
          'convTranspose3x3s2[tiled]',
          'maxPool2x2[]',
        ];
        expect([...ran].sort()).toEqual(expected.sort());
        const failed = checks.results
          .filter((r) => r.failures.length > 0)
          .map((r) => `${r.label}:\n    ${r.failures.join('\n    ')}`);
        expect(failed, `${kind.name} (${checks.adapter}), TEST_SEED=${SEED}:\n  ${failed.join('\n  ')}`).toEqual([]);
      }, 300_000);

      it("the web page's UNet11 probabilities match Node's on the same weights and image", async () => {
        const page = await browser!.newPage();
        await page.setViewport({ width: 1200, height: 720 });
        const weights = `${server!.url}files/unet11.safetensors`;
        const image = `${server!.url}files/scene.png`;
        await page.goto(
          `${server!.url}?weights=${encodeURIComponent(weights)}&image=${encodeURIComponent(image)}&tile=${TILE}`,
        );
        const state = await waitForState(page, 300_000);
        const status = await page.evaluate(() => document.getElementById('status')?.textContent ?? '');
        expect(state, status).toBe('done');
        const result = await page.evaluate(() => {
          const r = (
            window as unknown as { ternausnetResult: { width: number; height: number; probabilities: Float32Array } }
          ).ternausnetResult;
          return {
            width: r.width,
            height: r.height,
            isFloat32: r.probabilities instanceof Float32Array,
            p: [...r.probabilities],
          };
        });
        const adapter = await page.evaluate(() => document.getElementById('adapter')?.textContent ?? '');
        console.log(
          `[${kind.name}] ${adapter}; ${await page.evaluate(() => document.getElementById('time')?.textContent)}`,
        );
        if (kind.name === 'chromium') {
          const out = join(root, process.env.UPDATE_SCREENSHOT ? 'docs' : 'results', 'web-page.png');
          mkdirSync(join(out, '..'), { recursive: true });
          await page.screenshot({ path: out as `${string}.png` });
        }
        await page.close();
        expect(result).toMatchObject({ width: WIDTH, height: HEIGHT, isFloat32: true });
        let worst = 0;
        let at = 0;
        for (let i = 0; i < result.p.length; i++) {
          const d = Math.abs(result.p[i]! - nodeProbabilities[i]!);
          if (!(d <= worst)) [worst, at] = [d, i];
        }
        console.log(`[${kind.name}] max |browser − node| = ${worst.toExponential(2)}`);
        expect(result.p.length).toBe(WIDTH * HEIGHT);
        expect(worst, `pixel ${at}: browser ${result.p[at]} vs node ${nodeProbabilities[at]}`).toBeLessThanOrEqual(
          PARITY_ATOL,
        );
      }, 360_000);
    });
  }
});
