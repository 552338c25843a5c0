/**
 * `bench model --peer pytorch`: PyTorch's CPU UNet11 (bench/pytorch_unet11.py --serve, a separate process: another
 * runtime on the same 2 cores, not on the WebGPU adapter) timed run by run in alternation with ours, so that both
 * sides of each ratio see the same moments of a host whose speed wanders by ±20 % within minutes. The peer times
 * its own work (perf_counter around one forward or step); the pipe's few milliseconds are outside both timings.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { ModelPeer } from './model.ts';

const SCRIPT = new URL('../pytorch_unet11.py', import.meta.url).pathname;

/**
 * The interpreter: TERNAUSNET_PYTHON, else Debian's /usr/bin/python3 (where `apt-get install python3-torch` puts
 * torch; a pyenv `python3` earlier on PATH usually lacks it), else `python3`.
 */
function python(): string {
  return process.env.TERNAUSNET_PYTHON || (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
}

export async function startPytorchPeer(size: number, batch: number, threads = 2): Promise<ModelPeer> {
  const exe = python();
  const child: ChildProcessWithoutNullStreams = spawn(
    exe,
    [SCRIPT, '--serve', '--size', String(size), '--batch', String(batch), '--threads', String(threads)],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const fail = (what: string) =>
    new Error(
      `--peer pytorch: ${what} (${exe} ${SCRIPT}; needs torch: Debian's python3-torch, or TERNAUSNET_PYTHON=` +
        `an interpreter that has it)${stderr ? `:\n${stderr.trim().split('\n').slice(-5).join('\n')}` : ''}`,
    );
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (e) => reject(fail(`cannot start: ${e.message}`)));
  });
  /** The next JSON line from the peer, or an error naming what it printed on stderr. */
  const next = async (): Promise<Record<string, unknown>> => {
    const line = await lines.next();
    if (line.done) throw fail('the peer exited');
    try {
      return JSON.parse(line.value) as Record<string, unknown>;
    } catch {
      throw fail(`unexpected output ${JSON.stringify(line.value)}`);
    }
  };
  await spawned;
  const hello = await next();
  if (typeof hello.library !== 'string') throw fail(`unexpected greeting ${JSON.stringify(hello)}`);
  return {
    library: `${hello.library} (${hello.threads} threads)`,
    async run(work) {
      child.stdin.write(`${work}\n`);
      const reply = await next();
      if (typeof reply.ms !== 'number') throw fail(`unexpected reply ${JSON.stringify(reply)}`);
      return reply.ms;
    },
    close() {
      child.stdin.end();
    },
  };
}
