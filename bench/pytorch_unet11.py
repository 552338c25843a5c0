"""PyTorch CPU reference timing of UNet11 for bench/NOTES.md: forward (no grad) and one Adam training step with
L = BCE - log(J), at the same size and batch as `npm run bench -- model`. Not a peer in the same process (it is
another runtime on the CPU, not on the WebGPU adapter): it answers "how far is a tuned CPU library".

    /usr/bin/python3 bench/pytorch_unet11.py [--size 128] [--batch 1] [--runs 5] [--warmup 2] [--threads 2]

Needs Debian's python3-torch (1.13); prints one JSON line.
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
