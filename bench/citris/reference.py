#!/usr/bin/env python3
"""PyTorch half of the CITRIS training-speed benchmark (``causalgen bench citris-step``).

One training step of CITRIS-NF's flow stage, written in plain PyTorch after our
``crates/citris/src/{flow,prior,classifier,nf}.rs`` (which follow the reference
``phlippe/CITRIS``): the same modules, shapes, parameter count and operations, and
the same step as ``nn::train::fit``:

    8 noisy copies of each encoding pair -> flow (ActNorm, LU linear, MADE affine
    autoregressive layers) -> transition prior NLL marginalised over softmax(psi), minus
    the flow's log-determinant -> target classifier (loss_model, loss_z on a
    straight-through Gumbel sample of psi) -> read every logged term -> zero_grad ->
    backward -> global-norm clipping (1.0) -> AdamW with CITRIS' parameter groups
    (classifier at 4 x lr with weight decay 1e-4 on matrices, psi at 10 x lr)

on one random-but-fixed batch (standard normal encodings, each target intervened on
with probability 1/4). ``--warmup-steps`` untimed steps, then ``--steps`` timed ones;
prints the median ms/step (``--json``: one JSON object). No torch.compile.
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

import numpy as np

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from steps import time_steps  # noqa: E402  (bench/steps.py)

ACTNORM_LIMIT = 3.0
COUPLING_LIMIT = 3.0
NOISE_LEVEL = 0.05  # the autoencoder's noise, added to each copy of an encoding
SAMPLES = 8
PRIOR_HIDDEN = 64  # citris::nf::NF_HIDDEN
CLASSIFIER_HIDDEN = 128
HIDDEN_PER_DIM = 16
OUTPUT_INIT_SCALE = 0.2
MASKED_LOGIT = -1e9  # psi_0 is switched off (lambda = 0)
EXPORT_SEED = 77  # the libtorch seed before the step of --export / --check


# ----------------------------------------------------------------------------------
# Flow (crates/citris/src/flow.rs)


class ActNorm(nn.Module):
    def __init__(self, dims: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(dims))
        self.log_scale = nn.Parameter(torch.zeros(dims))
        self.initialised = False

    @torch.no_grad()
    def initialise(self, x):
        std = x.std(0).clamp_min(math.exp(-ACTNORM_LIMIT))
        self.bias.copy_(-x.mean(0))
        self.log_scale.copy_(-std.log())
        self.initialised = True

    def forward(self, x):
        if not self.initialised:
            self.initialise(x)
        s = self.log_scale
        s = s + (s.clamp(-ACTNORM_LIMIT, ACTNORM_LIMIT) - s).detach()
        return (x + self.bias) * s.exp(), s.sum()


class LuLinear(nn.Module):
    def __init__(self, dims: int):
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(dims, dims, dtype=torch.float64))
        perm, lower, upper = torch.linalg.lu(q)
        diag = upper.diagonal()
        self.register_buffer("perm", perm.float())
        self.register_buffer("sign", diag.sign().float())
        self.register_buffer("eye", torch.eye(dims))
        self.lower = nn.Parameter(lower.tril(-1).float())
        self.upper = nn.Parameter(upper.triu(1).float())
        self.log_diag = nn.Parameter(diag.abs().log().float())

    def forward(self, x):
        lower = self.lower.tril(-1) + self.eye
        upper = self.upper.triu(1) + torch.diag_embed(self.sign * self.log_diag.exp())
        weight = self.perm @ lower @ upper
        return x @ weight, self.log_diag.sum()


class MaskedLinear(nn.Linear):
    def __init__(self, dims, per_dim, diagonal, output_scale=None):
        inp, out = per_dim
        super().__init__(dims * inp, dims * out)
        rows = torch.arange(dims * out)[:, None] // out
        cols = torch.arange(dims * inp)[None, :] // inp
        mask = (cols < rows) | (diagonal & (cols == rows))
        self.register_buffer("mask", mask.float())
        gain_sq, scale = (2.0, 1.0) if output_scale is None else (1.0, output_scale)
        fan_in = self.mask.sum(1, keepdim=True).clamp_min(1.0)
        bound = (3.0 * gain_sq / fan_in).sqrt() * scale
        with torch.no_grad():
            self.weight.copy_((torch.rand_like(self.weight) * 2 - 1) * bound * self.mask)
            if output_scale is not None:
                self.weight[:out].zero_()
                self.bias.zero_()

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


class AffineAutoregressive(nn.Module):
    def __init__(self, dims: int):
        super().__init__()
        h = HIDDEN_PER_DIM
        self.l0 = MaskedLinear(dims, (1, h), False)
        self.l1 = MaskedLinear(dims, (h, h), True)
        self.l2 = MaskedLinear(dims, (h, 2), True, output_scale=OUTPUT_INIT_SCALE)
        self.scaling = nn.Parameter(torch.zeros(dims))
        self.dims = dims

    def forward(self, x):
        h = F.silu(self.l1(F.silu(self.l0(x))))
        out = self.l2(h).view(-1, self.dims, 2)
        bound = (self.scaling.exp() / COUPLING_LIMIT).tanh() * COUPLING_LIMIT
        s = (out[..., 1] / bound.clamp_min(1.0)).tanh() * bound
        return (x + out[..., 0]) * s.exp(), s.sum(1)


class Block(nn.Module):
    def __init__(self, dims: int, mix: bool):
        super().__init__()
        self.actnorm = ActNorm(dims)
        self.mix = LuLinear(dims) if mix else None
        self.autoregressive = AffineAutoregressive(dims)

    def forward(self, x):
        x, logdet = self.actnorm(x)
        if self.mix is not None:
            x, ld = self.mix(x)
            logdet = logdet + ld
        x, ld = self.autoregressive(x)
        return x, logdet + ld


class Flow(nn.Module):
    def __init__(self, dims: int, blocks: int):
        super().__init__()
        self.blocks = blocks
        for i in range(blocks):  # named as our VarStore's paths: flow.block0.actnorm.bias
            self.add_module(f"block{i}", Block(dims, mix=i > 0))

    def forward(self, x):
        logdet = x.new_zeros(x.shape[0])
        for i in range(self.blocks):
            x, ld = getattr(self, f"block{i}")(x)
            logdet = logdet + ld
        return x, logdet


# ----------------------------------------------------------------------------------
# Transition prior with perfect interventions (crates/citris/src/prior.rs)


def gaussian_log_prob(mean, log_std, x):
    return -(log_std + 0.5 * math.log(2 * math.pi)) - ((x - mean) / log_std.exp()).square() * 0.5


class GroupedLinear(nn.Module):
    """L independent linear layers [.., L, in] -> [.., L, out]."""

    def __init__(self, groups: int, inputs: int, outputs: int):
        super().__init__()
        bound = math.sqrt(6.0 / (inputs * outputs))
        self.weight = nn.Parameter(torch.empty(groups, outputs, inputs).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(groups, outputs))

    def forward(self, x):
        return torch.einsum("...li,loi->...lo", x, self.weight) + self.bias


class TransitionPrior(nn.Module):
    def __init__(self, latents: int, variables: int):
        super().__init__()
        self.latents, self.variables = latents, variables
        h = PRIOR_HIDDEN
        self.assignment_logits = nn.Parameter(torch.zeros(latents, variables + 1))
        offset = torch.zeros(latents, variables + 1)
        offset[:, variables] = MASKED_LOGIT
        self.register_buffer("logit_offset", offset)
        self.context = nn.Linear(latents, latents * h)
        self.input = GroupedLinear(latents, 1, h)
        self.hidden = GroupedLinear(latents, h, h)
        self.output = GroupedLinear(latents, h, 2)
        self.intervention = nn.Parameter(torch.empty(latents, variables, 2).uniform_(-0.5, 0.5))

    def probs(self):
        return (self.assignment_logits + self.logit_offset).softmax(-1)

    def assignment_diagnostics(self):
        """psi_entropy (mean nats per latent) and psi_unassigned (variables no latent's
        argmax picks), as logged by crates/citris/src/prior.rs."""
        with torch.no_grad():
            p = self.probs()
            entropy = -(p * p.clamp_min(1e-30).log()).sum(-1).mean()
            picked = torch.bincount(p.argmax(-1), minlength=self.variables + 1)
            unassigned = (picked[:self.variables] == 0).sum().float()
        return {"psi_entropy": entropy, "psi_unassigned": unassigned}

    def group_params(self, z_t, targets):
        """Mean and log-std [N, G, L] as if each latent belonged to each group."""
        n, l, g = z_t.shape[0], self.latents, self.variables + 1
        context = self.context(z_t).view(n, l, -1)
        h = F.silu(self.hidden(F.silu(context + self.input(z_t.unsqueeze(-1)))))
        out = self.output(h)  # [N, L, 2]
        flags = torch.cat([targets, targets.new_zeros(n, 1)], 1)
        intervened = flags.unsqueeze(-1) == 1.0
        intervention = self.intervention.detach()

        def pick(i):
            p = intervention[..., i].t()
            under = torch.cat([p, p[:1]], 0)
            return torch.where(intervened, under, out[..., i].unsqueeze(1).expand(n, g, l))

        return pick(0), pick(1)

    def nll(self, z_t, z_t1, targets):
        b, s, l = z_t.shape
        g = self.variables + 1
        repeated = targets.unsqueeze(1).expand(b, s, self.variables).reshape(b * s, -1)
        mean, log_std = self.group_params(z_t.reshape(b * s, l), repeated)
        nll = -gaussian_log_prob(mean.view(b, s, 1, g, l), log_std.view(b, s, 1, g, l),
                                 z_t1.view(b, 1, s, 1, l)).mean((1, 2))
        nll = (nll * self.probs().t()).sum((1, 2))
        fit = -gaussian_log_prob(self.intervention[..., 0], self.intervention[..., 1],
                                 z_t1.detach().unsqueeze(-1)).mean(1)
        fit = (fit * targets.unsqueeze(1)).sum((1, 2))
        return nll + fit - fit.detach()

    def sample_assignment(self, batch):
        logits = (self.assignment_logits + self.logit_offset).unsqueeze(0).expand(batch, -1, -1)
        gumbel = -torch.empty_like(logits).exponential_().log()
        soft = (logits + gumbel).softmax(-1)
        hard = torch.zeros_like(soft).scatter_(-1, soft.argmax(-1, keepdim=True), 1.0)
        return hard - soft.detach() + soft

    def psi0_regularizer(self, lambda_reg=0.0):
        return (1 - self.probs()[:, self.variables]).mean() * lambda_reg


# ----------------------------------------------------------------------------------
# Target classifier (crates/citris/src/classifier.rs)


class TargetClassifier(nn.Module):
    def __init__(self, latents: int, variables: int):
        super().__init__()
        self.hidden = nn.Linear(3 * latents, CLASSIFIER_HIDDEN)
        self.output = nn.Linear(CLASSIFIER_HIDDEN, variables)
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)
        self.register_buffer("target_marginal", torch.full((variables,), 0.5))
        self.register_buffer("batches_seen", torch.zeros(()))
        k = variables
        own = torch.cat([torch.eye(k), torch.zeros(1, k), torch.ones(1, k)], 0)
        self.register_buffer("own", own)

    def logits(self, inputs, frozen):
        if not frozen:
            return self.output(F.silu(self.hidden(inputs)))
        h = F.linear(inputs, self.hidden.weight.detach(), self.hidden.bias.detach())
        return F.linear(F.silu(h), self.output.weight.detach(), self.output.bias.detach())

    def losses(self, z_t, z_t1, targets, assignment):
        b, l = z_t.shape
        k = targets.shape[1]
        groups = k + 2
        with torch.no_grad():
            marginal = self.target_marginal
            marginal.copy_((marginal * self.batches_seen + targets.mean(0))
                           / (self.batches_seen + 1))
            self.batches_seen += 1
        masks = torch.cat([assignment, torch.ones_like(assignment[..., :1])], 2).transpose(1, 2)

        def inputs(z_t, z_t1, masks):
            return torch.cat([z_t.unsqueeze(1).expand(b, groups, l), z_t1.unsqueeze(1) * masks,
                              masks], -1)

        labels = targets.unsqueeze(1).expand(b, groups, k)
        model_logits = self.logits(inputs(z_t.detach(), z_t1.detach(), masks.detach()), False)
        loss_model = F.binary_cross_entropy_with_logits(model_logits, labels) * groups
        z_labels = torch.where(self.own.bool(), labels, self.target_marginal)
        weights = self.own * (k - 1.0) + 1.0
        z_logits = self.logits(inputs(z_t, z_t1, masks), True)
        loss_z = F.binary_cross_entropy_with_logits(z_logits, z_labels, weight=weights) * groups
        return loss_model, loss_z


# ----------------------------------------------------------------------------------
# The flow stage and its training step (crates/citris/src/nf.rs, nn::train::fit)


class FlowStage(nn.Module):
    def __init__(self, latents: int, variables: int, blocks: int):
        super().__init__()
        self.flow = Flow(latents, blocks)
        self.prior = TransitionPrior(latents, variables)
        self.classifier = TargetClassifier(latents, variables)

    def loss(self, e_t, e_t1, targets, beta_t1=1.0, beta_classifier=2.0):
        b, l = e_t.shape
        s = SAMPLES
        e = torch.stack([e_t, e_t1]).unsqueeze(2).expand(2, b, s, l)
        e = e + torch.randn_like(e) * NOISE_LEVEL
        z, log_det = self.flow(e.reshape(2 * b * s, l))
        z = z.view(2, b, s, l)
        log_det_t1 = log_det.view(2, b, s)[1].mean(1)
        z_t, z_t1 = z[0], z[1]
        nll = (self.prior.nll(z_t, z_t1, targets) - log_det_t1).mean()
        sample_targets = targets.unsqueeze(1).expand(b, s, -1).reshape(b * s, -1)
        assignment = self.prior.sample_assignment(b * s)
        cls_model, cls_z = self.classifier.losses(z_t.reshape(b * s, l), z_t1.reshape(b * s, l),
                                                  sample_targets, assignment)
        total = nll * beta_t1 + cls_model + cls_z * beta_classifier + self.prior.psi0_regularizer()
        return {"total": total, "nll": nll.detach(), "log_det": log_det_t1.mean().detach(),
                "cls_model": cls_model.detach(), "cls_z": cls_z.detach(),
                **self.prior.assignment_diagnostics()}


def adamw(model, lr=1e-3):
    """citris::training::train_config's groups; decay only on tensors of > 1 dimension."""
    groups = {"classifier_decay": [], "classifier": [], "psi": [], "rest": []}
    for name, p in sorted(model.named_parameters()):
        if name.startswith("classifier."):
            groups["classifier_decay" if p.dim() > 1 else "classifier"].append(p)
        elif name == "prior.assignment_logits":
            groups["psi"].append(p)
        else:
            groups["rest"].append(p)
    return torch.optim.AdamW(
        [{"params": groups["classifier_decay"], "lr": 4 * lr, "weight_decay": 1e-4},
         {"params": groups["classifier"], "lr": 4 * lr, "weight_decay": 0.0},
         {"params": groups["psi"], "lr": 10 * lr, "weight_decay": 0.0},
         {"params": groups["rest"], "lr": lr, "weight_decay": 0.0}],
        lr=lr, betas=(0.9, 0.999), eps=1e-8,
    )


def train_step(model, optimizer, e_t, e_t1, targets, clip_norm=1.0):
    terms = model.loss(e_t, e_t1, targets)
    # fit() reads every logged term as a number before stepping.
    values = {name: t.item() for name, t in terms.items()}
    optimizer.zero_grad()
    terms["total"].backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm).item()
    optimizer.step()
    return values, norm


def benchmark(args, device) -> dict:
    torch.manual_seed(0)
    model = FlowStage(args.latents, args.variables, args.blocks).to(device)
    optimizer = adamw(model)
    torch.manual_seed(1234)
    e_t = torch.randn(args.batch, args.latents).to(device)
    e_t1 = torch.randn(args.batch, args.latents).to(device)
    targets = (torch.rand(args.batch, args.variables) < 0.25).float().to(device)
    with torch.no_grad():
        model.flow(torch.cat([e_t, e_t1]))  # ActNorm's data initialisation
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def step(i):
        torch.manual_seed(i)
        _, norm = train_step(model, optimizer, e_t, e_t1, targets)
        if not math.isfinite(norm):
            raise SystemExit(f"the gradient norm is {norm} at step {i}")

    timing = time_steps(step, args.warmup_steps, args.steps, sync)
    return {
        "engine": "pytorch",
        "torch": torch.__version__,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "latents": args.latents,
        "variables": args.variables,
        "batch": args.batch,
        "samples": SAMPLES,
        "blocks": args.blocks,
        "hidden_per_dim": HIDDEN_PER_DIM,
        "prior_hidden": PRIOR_HIDDEN,
        "classifier_hidden": CLASSIFIER_HIDDEN,
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": args.steps,
        "warmup_steps": args.warmup_steps,
        **timing,
        "pairs_per_s": args.batch / timing["ms_per_step"] * 1e3,
        "python": platform.python_version(),
    }


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file (read by hand: no ``safetensors`` package)."""
    dtypes = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])
    data = raw[8 + length:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        array = np.frombuffer(data[start:end], dtype=dtypes[info["dtype"]])
        tensors[name] = torch.from_numpy(array.copy()).reshape(info["shape"])
    return tensors


def check(directory: Path) -> int:
    """Recomputes the step ``causalgen bench citris-step --export DIR`` wrote: our
    weights loaded by name, the same batch and libtorch seed; every loss term and the
    gradient norm must agree to 1e-4 relative.  Prints the comparison as JSON."""
    files = ("weights.safetensors", "batch.safetensors", "terms.json")
    absent = [name for name in files if not (directory / name).is_file()]
    if absent:
        raise SystemExit(f"error: {directory} lacks {', '.join(absent)}: write it with "
                         f"`causalgen bench citris-step --export {directory}`")
    weights = read_safetensors(directory / "weights.safetensors")
    batch = read_safetensors(directory / "batch.safetensors")
    expected = json.loads((directory / "terms.json").read_text())
    latents, variables = batch["e_t"].shape[1], batch["targets"].shape[1]
    blocks = len({name.split(".")[1] for name in weights if name.startswith("flow.")})
    model = FlowStage(latents, variables, blocks)
    state = model.state_dict()
    unknown = [name for name in weights if name not in state and not name.endswith(".initialised")]
    missing = [name for name, _ in model.named_parameters() if name not in weights]
    if unknown or missing:
        raise SystemExit(f"names differ: ours only {unknown}, the reference's only {missing}")
    with torch.no_grad():
        for name, value in weights.items():
            if name.endswith(".initialised"):
                model.get_submodule(name.rsplit(".", 1)[0]).initialised = bool(value.item())
            else:
                state[name].copy_(value.reshape(state[name].shape))
    torch.manual_seed(EXPORT_SEED)
    terms = model.loss(batch["e_t"], batch["e_t1"], batch["targets"])
    got = {name: t.item() for name, t in terms.items()}
    terms["total"].backward()
    got["grad_norm"] = torch.nn.utils.clip_grad_norm_(model.parameters(), math.inf).item()
    report = {name: {"ours": expected[name], "pytorch": got[name],
                     "relative": abs(expected[name] - got[name]) / max(1.0, abs(got[name]))}
              for name in expected}
    print(json.dumps(report, indent=1))
    return 0 if all(r["relative"] <= 1e-4 for r in report.values()) else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--latents", type=int, default=16)
    p.add_argument("--variables", type=int, default=5)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--blocks", type=int, default=4)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--warmup-steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=0, help="intra-op threads (0: all cores)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true")
    p.add_argument("--check", metavar="DIR", type=Path,
                   help="recompute the step `causalgen bench citris-step --export DIR` wrote")
    args = p.parse_args()
    assert sys.byteorder == "little", "safetensors data is little-endian"
    threads = args.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    if args.check:
        return check(args.check)
    result = benchmark(args, torch.device(args.device))
    if args.json:
        print(json.dumps(result))
    else:
        print(f"pytorch {result['torch']} on {args.device}, {threads} threads: "
              f"{result['parameters']} parameters, {result['ms_per_step']:.2f} ms/step, "
              f"{result['pairs_per_s']:.0f} encoding pairs/s, "
              f"{result['cpu_ms_per_step']:.2f} ms of CPU time per step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
