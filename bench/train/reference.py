#!/usr/bin/env python3
"""PyTorch half of the training-speed benchmark (``causalgen bench train``).

The same conditional VAE as ``crates/causal-vae/src/model.rs`` on the layers of
``crates/nn/src/layers.rs``, written in plain PyTorch with parameter names identical
to our VarStore's (``encoder.down0.conv.weight``, ``decoder.up0.norm.bias``,
``label_head.l0.weight``, ...), and the same training step as ``nn::train::fit``:

    loss (reconstruction + KL(z) + KL(y) + label cross-entropy) -> zero_grad ->
    backward -> global-norm gradient clipping -> AdamW (decoupled weight decay on
    parameters with more than one dimension only)

Two modes:

* timing (default): one random-but-fixed batch (images uniform in [0, 1], random
  labels, all present), ``--warmup-steps`` untimed steps, then ``--steps`` timed
  ones; prints the median ms/step (``--json``: one JSON object).  No torch.compile.
* ``--export DIR``: builds the model from a fixed seed and writes what
  ``crates/causal-vae/tests/pytorch_equivalence.rs`` compares against:
  ``weights.safetensors`` (the state_dict, safetensors written by hand, so the
  ``safetensors`` package is not needed), ``weights.pt`` (the same via torch.save),
  and ``data.safetensors`` with the inputs (images, labels with some missing,
  one-hot labels, z noise) and outputs (label logits, posterior mean and
  log-variance, decoded images, the loss terms of one training step under a given
  libtorch seed, every gradient, the gradient norm, and every parameter after one
  clipped AdamW step).

The label schema is the fight network's (cardinalities 2, 3, 3, 2, 3, 4); the
priors p(y_k) of missing labels are uniform unless ``--priors FILE`` (JSON: one
list of probabilities per variable) gives them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import struct
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from steps import time_steps  # noqa: E402  (bench/steps.py)

CARDS = [2, 3, 3, 2, 3, 4]  # actor, actor_type, action, reactor, reactor_type, reaction
GROUPS = 8


# ----------------------------------------------------------------------------------
# Layers (crates/nn/src/layers.rs)


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(GROUPS, channels), channels)


def level_channels(image_size: int, width: int) -> list[int]:
    levels = (image_size // 4).bit_length() - 1
    assert image_size >= 8 and image_size == 4 << levels, image_size
    return [min(width << level, 8 * width) for level in range(levels)]


class DownBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)
        self.norm = group_norm(c_out)

    def forward(self, x):
        return F.silu(self.norm(self.conv(x)))


class UpBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)
        self.norm = group_norm(c_out)

    def forward(self, x):
        return F.silu(self.norm(self.conv(x)))


class ResBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.norm1 = group_norm(channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = group_norm(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        return x + self.conv2(F.silu(self.norm2(h)))


class ConvEncoder(nn.Module):
    def __init__(self, image_size: int, width: int):
        super().__init__()
        c_in = 3
        self.n_blocks = 0
        for i, c in enumerate(level_channels(image_size, width)):
            self.add_module(f"down{i}", DownBlock(c_in, c))
            c_in = c
            self.n_blocks += 1
        self.res = ResBlock(c_in)
        self.out_features = c_in * 16

    def forward(self, x):
        h = x * 2.0 - 1.0
        for i in range(self.n_blocks):
            h = getattr(self, f"down{i}")(h)
        return self.res(h).flatten(1)


class ConvDecoder(nn.Module):
    def __init__(self, in_features: int, image_size: int, width: int):
        super().__init__()
        channels = level_channels(image_size, width)
        self.base_channels = channels[-1]
        self.input = nn.Linear(in_features, self.base_channels * 16)
        self.res = ResBlock(self.base_channels)
        c_in = self.base_channels
        self.n_blocks = 0
        for i, c in enumerate(reversed(channels)):
            self.add_module(f"up{i}", UpBlock(c_in, c))
            c_in = c
            self.n_blocks += 1
        self.output = nn.Conv2d(c_in, 3, 3, padding=1)

    def forward(self, z):
        h = F.silu(self.input(z)).view(z.shape[0], self.base_channels, 4, 4)
        h = self.res(h)
        for i in range(self.n_blocks):
            h = getattr(self, f"up{i}")(h)
        return self.output(h)


class Mlp(nn.Module):
    """Linear layers l0, l1, ... with SiLU between them (none after the last)."""

    def __init__(self, dims: list[int]):
        super().__init__()
        self.n = len(dims) - 1
        for i in range(self.n):
            self.add_module(f"l{i}", nn.Linear(dims[i], dims[i + 1]))

    def forward(self, x):
        for i in range(self.n):
            x = getattr(self, f"l{i}")(x)
            if i + 1 < self.n:
                x = F.silu(x)
        return x


# ----------------------------------------------------------------------------------
# The model (crates/causal-vae/src/model.rs), Gaussian likelihood


class CausalVae(nn.Module):
    def __init__(self, image_size, width, z_dim, hidden, priors=None, sigma=0.1, beta=1.0,
                 label_weight=100.0):
        super().__init__()
        self.cards = CARDS
        self.offsets = [sum(CARDS[:k]) for k in range(len(CARDS))]
        y_width = sum(CARDS)
        self.encoder = ConvEncoder(image_size, width)
        features = self.encoder.out_features
        self.label_head = Mlp([features, hidden, y_width])
        self.posterior = Mlp([features + y_width, hidden, 2 * z_dim])
        self.decoder = ConvDecoder(z_dim + y_width, image_size, width)
        if priors is None:
            priors = [[1.0 / c] * c for c in CARDS]
        # Fixed, not parameters (as in Rust): plain attributes, not in the state_dict.
        self.log_priors = [torch.tensor([math.log(max(q, 1e-12)) for q in p]) for p in priors]
        self.sigma, self.beta, self.label_weight = sigma, beta, label_weight

    def block(self, logits, k):
        return logits.narrow(1, self.offsets[k], self.cards[k])

    def label_logits(self, x):
        return self.label_head(self.encoder(x))

    def posterior_of(self, features, y):
        mu, logvar = self.posterior(torch.cat([features, y], 1)).chunk(2, 1)
        return mu, logvar.clamp(-12.0, 8.0)

    def encode(self, x, y):
        return self.posterior_of(self.encoder(x), y)

    def decode(self, z, y):
        return torch.sigmoid(self.decoder(torch.cat([z, y], 1)))

    def loss(self, x, labels, kl_weight=1.0):
        """The same operations, in the same order (so the same random draws from
        libtorch's generator), as CausalVae::loss."""
        features = self.encoder(x)
        logits = self.label_head(features)
        batch = x.shape[0]
        cross_entropy = torch.zeros(batch, device=x.device)
        kl_y = torch.zeros_like(cross_entropy)
        correct = torch.tensor(0.0, dtype=torch.float64, device=x.device)
        present_total = labels.ge(0).sum().float().clamp_min(1.0)
        y_blocks = []
        for k in range(len(self.cards)):
            block = self.block(logits, k)
            log_q = block.log_softmax(1)
            label = labels.select(1, k)
            present = label.ge(0).float()
            safe = label.clamp_min(0)
            log_q_label = log_q.gather(1, safe.unsqueeze(1)).squeeze(1)
            cross_entropy = cross_entropy - log_q_label * present
            correct = correct + ((log_q.argmax(1) == safe).float() * present).sum()
            sampled = straight_through_gumbel(block)
            observed = F.one_hot(safe, self.cards[k]).float() * present.unsqueeze(1)
            y_blocks.append(observed + (1.0 - present.unsqueeze(1)) * sampled)
            log_prior = self.log_priors[k].to(x.device)
            kl = (log_q.exp() * (log_q - log_prior)).sum(1)
            kl_y = kl_y + kl * (1.0 - present)
        y = torch.cat(y_blocks, 1)
        mu, logvar = self.posterior_of(features, y)
        z = mu + (logvar * 0.5).exp() * torch.randn_like(mu)
        out = self.decoder(torch.cat([z, y], 1))
        reconstruction = ((out.sigmoid() - x).square() / (2.0 * self.sigma**2)).sum((1, 2, 3))
        kl_z = gaussian_kl(mu, logvar)
        total = (reconstruction + kl_z * (kl_weight * self.beta) + kl_y).mean() + (
            cross_entropy.mean() * self.label_weight
        )
        return {
            "total": total,
            "reconstruction": reconstruction.mean().detach(),
            "kl_z": kl_z.mean().detach(),
            "kl_y": kl_y.mean().detach(),
            "cross_entropy": cross_entropy.mean().detach(),
            "label_accuracy": (correct / present_total).detach(),
        }


def gaussian_kl(mu, logvar):
    return ((mu.square() + logvar.exp() - 1.0 - logvar) * 0.5).sum(1)


def straight_through_gumbel(logits):
    uniform = torch.rand_like(logits).clamp(1e-10, 1.0 - 1e-7)
    gumbel = -(-uniform.log()).log()
    soft = (logits + gumbel).softmax(1)
    hard = F.one_hot(soft.argmax(1), logits.shape[1]).float()
    return hard - soft.detach() + soft


# ----------------------------------------------------------------------------------
# Training step (crates/nn/src/train.rs, crates/nn/src/optim.rs)


def adamw(model, lr=1e-3, weight_decay=1e-4):
    """AdamW with decay only on tensors of more than one dimension, like ours."""
    params = [p for _, p in sorted(model.named_parameters())]
    decay = [p for p in params if p.dim() > 1]
    no_decay = [p for p in params if p.dim() <= 1]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=lr, betas=(0.9, 0.999), eps=1e-8,
    )


def train_step(model, optimizer, x, labels, clip_norm=5.0):
    terms = model.loss(x, labels)
    # fit() reads every logged term as a number before stepping.
    values = {name: t.item() for name, t in terms.items()}
    optimizer.zero_grad()
    terms["total"].backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    norm = grad_norm.item()  # fit() checks that it is finite
    optimizer.step()
    return values, norm


def random_batch(batch, size, device, missing=0.0, seed=1234):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, 3, size, size, generator=g)
    labels = torch.stack([torch.randint(0, c, (batch,), generator=g) for c in CARDS], 1)
    if missing > 0:
        hide = torch.rand(batch, len(CARDS), generator=g) < missing
        labels = labels.masked_fill(hide, -1)
    return x.to(device), labels.to(device)


def one_hot(labels):
    blocks = []
    for k, c in enumerate(CARDS):
        label = labels[:, k]
        present = label.ge(0).float().unsqueeze(1)
        blocks.append(F.one_hot(label.clamp_min(0), c).float() * present)
    return torch.cat(blocks, 1)


# ----------------------------------------------------------------------------------
# safetensors, by hand: u64 little-endian header length, JSON header, raw data


DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}


def write_safetensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        data = t.numpy().tobytes()  # native order: little-endian (checked in main)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def export(args, device) -> None:
    out = Path(args.export)
    out.mkdir(parents=True, exist_ok=True)
    priors = json.loads(Path(args.priors).read_text()) if args.priors else None
    torch.manual_seed(args.seed)
    model = CausalVae(args.size, args.width, args.z_dim, args.hidden, priors).to(device)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    write_safetensors(out / "weights.safetensors", state)
    torch.save(dict(state), out / "weights.pt")

    x, labels = random_batch(args.batch, args.size, device, missing=0.3, seed=args.seed + 1)
    full = random_batch(args.batch, args.size, device, seed=args.seed + 1)[1]
    y = one_hot(full)
    z = torch.randn(args.batch, args.z_dim, generator=torch.Generator().manual_seed(args.seed + 2))
    z = z.to(device)
    data = {"x": x, "labels": labels, "y": y, "z": z}
    with torch.no_grad():
        data["label_logits"] = model.label_logits(x)
        data["mu"], data["logvar"] = model.encode(x, y)
        data["decoded"] = model.decode(z, y)

    # One training step, with libtorch's generator seeded as the Rust test seeds it.
    optimizer = adamw(model, lr=args.lr)
    torch.manual_seed(args.loss_seed)
    terms = model.loss(x, labels)
    for name, t in terms.items():
        data[f"loss.{name}"] = t.detach().reshape(1).double()
    optimizer.zero_grad()
    terms["total"].backward()
    for name, p in model.named_parameters():
        data[f"grad.{name}"] = p.grad.detach().clone()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip_norm)
    data["grad_norm"] = norm.detach().reshape(1).double()
    optimizer.step()
    for name, p in model.named_parameters():
        data[f"updated.{name}"] = p.detach().clone()
    write_safetensors(out / "data.safetensors", data)
    print(json.dumps({"export": str(out), "tensors": len(data), "parameters": len(state)}))


def benchmark(args, device) -> dict:
    torch.manual_seed(args.seed)
    model = CausalVae(args.size, args.width, args.z_dim, args.hidden).to(device)
    optimizer = adamw(model, lr=args.lr)
    x, labels = random_batch(args.batch, args.size, device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    timing = time_steps(lambda _: train_step(model, optimizer, x, labels, args.clip_norm),
                        args.warmup_steps, args.steps, sync)
    return {
        "engine": "pytorch",
        "torch": torch.__version__,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "batch": args.batch,
        "size": args.size,
        "width": args.width,
        "z_dim": args.z_dim,
        "hidden": args.hidden,
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": args.steps,
        "warmup_steps": args.warmup_steps,
        **timing,
        "images_per_s": args.batch / timing["ms_per_step"] * 1e3,
        "python": platform.python_version(),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--z-dim", type=int, default=16)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup-steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="intra-op threads (0: all cores)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--clip-norm", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.add_argument("--export", metavar="DIR", help="write weights, inputs and outputs; no timing")
    p.add_argument("--priors", metavar="FILE", help="JSON priors of missing labels (export)")
    p.add_argument("--loss-seed", type=int, default=77, help="libtorch seed before the exported loss")
    args = p.parse_args()
    assert sys.byteorder == "little", "safetensors data is little-endian"
    threads = args.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    device = torch.device(args.device)
    if args.export:
        export(args, device)
        return 0
    result = benchmark(args, device)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"pytorch {result['torch']} on {device}, {threads} threads: "
              f"{result['ms_per_step']:.1f} ms/step, {result['images_per_s']:.0f} images/s, "
              f"{result['cpu_ms_per_step']:.1f} ms of CPU time per step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
