"""PyTorch CPU reference timing of UNet11 for bench/NOTES.md: forward (no grad) and one Adam training step with
L = BCE - log(J), at the same size and batch as `npm run bench -- model`. Not a peer in the same process (it is
another runtime on the CPU, not on the WebGPU adapter): it answers "how far is a tuned CPU library".

    /usr/bin/python3 bench/pytorch_unet11.py [--size 128] [--batch 1] [--runs 5] [--warmup 2] [--threads 2]

Needs Debian's python3-torch (1.13); prints one JSON line. With --serve it is the peer of `npm run bench -- model
--peer pytorch`: it prints a JSON line naming itself once the model is built, then for each line `forward` or
`step` read from stdin runs that once and prints {"ms": ...}, until stdin closes; the bench alternates these runs
with its own, so both sides see the same moments of a noisy host.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'scripts' / 'fixtures'))
from unet11 import UNet11  # noqa: E402


def loss_fn(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    bce = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
    p = torch.sigmoid(z)
    inter = (p * y).sum()
    union = p.sum() + y.sum() - inter
    return bce - torch.log((inter + 1e-15) / (union + 1e-15))


def timed(fn, runs: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--size', type=int, default=128)
    ap.add_argument('--batch', type=int, default=1)
    ap.add_argument('--runs', type=int, default=5)
    ap.add_argument('--warmup', type=int, default=2)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--serve', action='store_true', help='time single runs on request (see the module doc)')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = UNet11()
    x = torch.randn(a.batch, 3, a.size, a.size)
    y = (torch.rand(a.batch, 1, a.size, a.size) > 0.5).float()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def forward() -> None:
        with torch.no_grad():
            model(x)

    def step() -> None:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    if a.serve:
        print(json.dumps({'library': f'PyTorch {torch.__version__} CPU', 'threads': a.threads}), flush=True)
        work = {'forward': forward, 'step': step}
        for line in sys.stdin:
            fn = work.get(line.strip())
            if fn is None:
                print(json.dumps({'error': f'unknown command {line.strip()!r}: forward or step'}), flush=True)
                continue
            t0 = time.perf_counter()
            fn()
            print(json.dumps({'ms': (time.perf_counter() - t0) * 1000}), flush=True)
        return

    out = {
        'library': f'PyTorch {torch.__version__} CPU',
        'threads': a.threads,
        'size': a.size,
        'batch': a.batch,
        'forward_ms': timed(forward, a.runs, a.warmup),
        'train_step_ms': timed(step, a.runs, a.warmup),
    }
    print(json.dumps(out))


if __name__ == '__main__':
    main()
