/**
 * Training end to end at toy sizes: the loss falls, a run killed (SIGKILL) after an epoch resumes with exactly
 * the losses of an uninterrupted run, a NaN loss stops training and keeps the last good checkpoint, and
 * `reproduce --quick` writes every artefact.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTestDevice } from '../../../test/support/gpu.ts';
import { sceneData, syntheticScenes } from '../src/scenes.ts';
import { type Batch, NonFiniteLossError, type TrainingData, train } from '../src/trainer.ts';
import { cliEnv } from './cli.ts';

const root = new URL('../../..', import.meta.url).pathname;
const bin = join(root, 'packages/train/bin/ternausnet.mjs');
const TINY = [
  '--scenes',
  '2',
  '--val-scenes',
  '1',
  '--scene-size',
  '64',
  '--crop',
  '32',
  '--val-crop',
  '32',
  '--batch-size',
  '1',
];

function tinyData(seed = 0) {
  const s = syntheticScenes({ kind: 'aerial', trainScenes: 3, valScenes: 1, sceneSize: 64, seed: 1 });
  return sceneData(s.train, s.validation, { cropSize: 32, valCropSize: 32, batchSize: 1, seed, workers: 0 });
}

function cli(args: string[]): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, ...args], { cwd: root, env: cliEnv });
    let stderr = '';
    let stdout = '';
    p.stderr.on('data', (d) => (stderr += d));
    p.stdout.on('data', (d) => (stdout += d));
    p.on('close', (code) => resolve({ code, stderr, stdout }));
  });
}

/** The deterministic part of a run's history (timings differ from run to run). */
type Row = { epoch: number; trainLoss: number; valLoss: number; valIoU: number; valIoUGlobal: number };
const history = (dir: string) =>
  (JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { history: Row[] }).history.map(
    ({ epoch, trainLoss, valLoss, valIoU, valIoUGlobal }) => ({ epoch, trainLoss, valLoss, valIoU, valIoUGlobal }),
  );

describe('training', () => {
  useTestDevice();

  it('a few Adam steps lower the training loss', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'train-'));
    // One scene repeated: the same crop distribution every epoch, so the loss must fall.
    const s = syntheticScenes({ kind: 'aerial', trainScenes: 1, valScenes: 1, sceneSize: 32, seed: 3 });
    const data = sceneData([s.train[0]!, s.train[0]!], s.validation, {
      cropSize: 32,
      valCropSize: 32,
      batchSize: 1,
      seed: 0,
    });
    const r = await train(data, { runDir: dir, init: 'lecun', seed: 0, epochs: 3, progress: false });
    expect(r.history).toHaveLength(3);
    expect(r.history[2]!.trainLoss).toBeLessThan(r.history[0]!.trainLoss);
    for (const f of [
      'state.json',
      'epochs.csv',
      'model-best.safetensors',
      'model-epoch0003.safetensors',
      'optimizer-epoch0003.safetensors',
    ]) {
      expect(existsSync(join(dir, f))).toBe(true);
    }
    expect(existsSync(join(dir, 'model-epoch0002.safetensors'))).toBe(false);
    await expect(train(data, { runDir: dir, init: 'lecun', seed: 0, epochs: 3, progress: false })).rejects.toThrow(
      /already holds a run.*--resume/,
    );
    await expect(
      train(data, { runDir: dir, init: 'lecun', seed: 1, epochs: 4, resume: true, progress: false }),
    ).rejects.toThrow(/cannot resume .*seed was 0, now 1/);
  });

  it('a NaN loss stops the run with a message and keeps the last good checkpoint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nan-'));
    const base = tinyData();
    const poisoned: TrainingData = {
      trainBatchCount: base.trainBatchCount,
      validationImages: base.validationImages,
      validationBatches: () => base.validationBatches(),
      async *trainBatches(epoch: number): AsyncIterable<Batch> {
        for await (const b of base.trainBatches(epoch)) {
          if (epoch === 2) b.images.fill(Number.NaN);
          yield b;
        }
      },
    };
    await expect(train(poisoned, { runDir: dir, init: 'lecun', seed: 0, epochs: 3, progress: false })).rejects.toThrow(
      NonFiniteLossError,
    );
    await expect(
      train(poisoned, { runDir: join(dir, 'again'), init: 'lecun', seed: 0, epochs: 2, progress: false }),
    ).rejects.toThrow(/loss became NaN at epoch 2, step 1.*last good checkpoint \(epoch 1\)/);
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
    expect(state.epoch).toBe(1);
    expect(existsSync(join(dir, state.files.model))).toBe(true);
  });

  it('a run killed after an epoch resumes with exactly the losses of an uninterrupted run', {
    timeout: 900_000,
  }, async () => {
    const straight = mkdtempSync(join(tmpdir(), 'straight-'));
    const killed = mkdtempSync(join(tmpdir(), 'killed-'));
    const args = (dir: string) => ['train', '--out', dir, '--epochs', '3', ...TINY];
    const full = await cli(args(straight));
    expect(full.code).toBe(0);
    // Start the same run and SIGKILL it as soon as epoch 1's checkpoint is committed.
    const child = spawn(process.execPath, [bin, ...args(killed)], { cwd: root, env: cliEnv, stdio: 'ignore' });
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        try {
          if (existsSync(join(killed, 'state.json')) && history(killed).length >= 1) {
            clearInterval(timer);
            child.kill('SIGKILL');
            resolve();
          }
        } catch {
          // state.json is replaced atomically; a read can only miss it, never see half of it.
        }
      }, 50);
      child.on('exit', () => {
        clearInterval(timer);
        reject(new Error('training finished before it could be killed'));
      });
    });
    await new Promise((r) => child.on('close', r));
    expect(history(killed).length).toBeLessThan(3);
    const resumed = await cli([...args(killed), '--resume']);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/resuming .* after epoch/);
    expect(history(killed)).toEqual(history(straight));
  });

  it('reproduce --quick at a toy size runs end to end and writes every artefact', { timeout: 600_000 }, async () => {
    const out = mkdtempSync(join(tmpdir(), 'repro-'));
    const r = await cli([
      'reproduce',
      '--quick',
      '--out',
      out,
      '--epochs',
      '1',
      '--pretrain-epochs',
      '1',
      '--warmup',
      '2',
      ...TINY,
    ]);
    expect(r.code).toBe(0);
    for (const f of ['results.md', 'results.json', 'val_iou.svg', 'val_iou.png', 'overlays.png'])
      expect(existsSync(join(out, f))).toBe(true);
    const md = readFileSync(join(out, 'results.md'), 'utf8');
    expect(md).toMatch(/LeCun uniform .* 0\.593/);
    // Without --vgg11 the imagenet scheme runs on the stand-in shipped with the package, and says so.
    expect(md).toMatch(/VGG11 encoder pre-trained here \(stand-in, not ImageNet\) .*0\.686/);
    expect(md).toMatch(/not ImageNet: 10 classes, held-out top-1 \d+\.\d %/);
    expect(md).toMatch(
      /Pre-trained on synthetic cars \(Carvana stand-in\) .*0\.687 \| pre-trained \d+ steps on synthetic car silhouettes .*from the stand-in VGG11 encoder/,
    );
    expect(md).toMatch(/ends best|ends at val IoU/);
    const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(json.rows.map((row: { scheme: string }) => row.scheme)).toEqual(['lecun', 'imagenet', 'pretrained']);
    for (const row of json.rows) {
      expect(row.skipped).toBeNull();
      expect(row.finalValIoU).toBeGreaterThanOrEqual(0);
      expect(row.finalPredictedFraction).toBeGreaterThanOrEqual(0);
      expect(row.trueFraction).toBeGreaterThan(0);
    }
    expect(json.histories).toHaveLength(3);
    expect(typeof json.verdict).toBe('string');
  });
});
