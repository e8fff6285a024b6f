#!/usr/bin/env python3
"""The PyTorch reference of `alora bench train --pytorch`: the same LoRA training step in plain PyTorch.

A minimal Llama (RMSNorm, RoPE with rotate_half, grouped-query attention by repeat_interleave, SiLU MLP, untied
lm_head; float32, weights N(0, 0.02) and unit norms as Alora's InitWeights), LoRA on q_proj and v_proj as PEFT's
(A kaiming-uniform a=sqrt(5), B zero, scaling alpha/r), the base frozen, AdamW (weight decay 0, as Alora's default) on
the LoRA factors only, gradients clipped to norm 1 as Alora's trainer does, mean cross-entropy over the next-token
targets of random tokens. Prints one JSON line: tokens/s and ms/step (median and min of the timed steps after the
warm-up), the peak RSS (getrusage), and the float32 sgemm peak of the same threads.

Torch before 2.0 has no scaled_dot_product_attention: attention is then softmax(Q K^T / sqrt(D) + causal mask) V.
"""

import argparse
import json
import math
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        # x / sqrt(mean(x^2) + eps) * weight
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


class LoraLinear(nn.Module):
    """y = base(x) + s * B(A(x)), A (r x in), B (out x r), s = alpha / r."""

    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base
        self.lora_A = nn.Linear(base.in_features, r, bias=False)
        self.lora_B = nn.Linear(r, base.out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.scaling = alpha / r

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(x)) * self.scaling


def rotate_half(x):
    # Llama pairs dimension i with i + D/2: rotate_half(x) = [-x2, x1]
    x1, x2 = x.chunk(2, -1)
    return torch.cat((-x2, x1), -1)


class Attention(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = a.heads, a.kv_heads, a.hidden // a.heads
        self.q_proj = nn.Linear(a.hidden, a.heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(a.hidden, a.kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(a.hidden, a.kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(a.heads * self.head_dim, a.hidden, bias=False)

    def forward(self, x, cos, sin, mask):
        b, t, c = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)  # [B,H,T,D]
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)  # [B,KV,T,D]
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)  # [B,KV,T,D]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if self.kv_heads != self.heads:
            # grouped-query attention: query head h reads kv head h / (H / KV)
            k = k.repeat_interleave(self.heads // self.kv_heads, dim=1)
            v = v.repeat_interleave(self.heads // self.kv_heads, dim=1)
        if hasattr(F, "scaled_dot_product_attention"):
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            s = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim)  # [B,H,T,T]
            y = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1) @ v  # [B,H,T,D]
        return self.o_proj(y.transpose(1, 2).reshape(b, t, c))


class Mlp(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.gate_proj = nn.Linear(a.hidden, a.intermediate, bias=False)
        self.up_proj = nn.Linear(a.hidden, a.intermediate, bias=False)
        self.down_proj = nn.Linear(a.intermediate, a.hidden, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.self_attn = Attention(a)
        self.mlp = Mlp(a)
        self.input_layernorm = RMSNorm(a.hidden, 1e-5)
        self.post_attention_layernorm = RMSNorm(a.hidden, 1e-5)

    def forward(self, x, cos, sin, mask):
        h = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return h + self.mlp(self.post_attention_layernorm(h))


class Llama(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.embed_tokens = nn.Embedding(a.vocab, a.hidden)
        self.layers = nn.ModuleList([Layer(a) for _ in range(a.layers)])
        self.norm = RMSNorm(a.hidden, 1e-5)
        self.lm_head = nn.Linear(a.hidden, a.vocab, bias=False)
        d = a.hidden // a.heads
        self.register_buffer("inv_freq", 1.0 / (10000 ** (torch.arange(0, d, 2).float() / d)), persistent=False)

    def forward(self, ids):  # ids [B,T] -> logits [B,T,V]
        t = ids.shape[1]
        angles = torch.outer(torch.arange(t, dtype=torch.float32), self.inv_freq)  # [T, D/2]
        emb = torch.cat((angles, angles), -1)  # [T, D]
        cos, sin = emb.cos(), emb.sin()
        mask = torch.ones(t, t, dtype=torch.bool).triu(1)  # True above the diagonal: masked
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.lm_head(self.norm(x))


def sgemm_gflops(n=1024, repeats=5):
    """Best GFLOP/s of torch.mm on float32 [n,n] x [n,n] (2 n^3 FLOPs) after one warm-up."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a.mm(b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a.mm(b)
        best = min(best, time.perf_counter() - start)
    return 2.0 * n**3 / best / 1e9


def blas_library():
    """The BLAS shared library mapped into this process (Debian's torch takes whichever libblas.so.3 is the alternative)."""
    try:
        with open("/proc/self/maps") as f:
            names = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
        return ", ".join(sorted(n.rsplit("/", 1)[-1] for n in names)) or "none mapped"
    except OSError:
        return "unknown"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in [
        ("vocab", 8192), ("hidden", 256), ("layers", 4), ("heads", 8), ("kv-heads", 4), ("intermediate", 688),
        ("seq", 256), ("batch", 8), ("threads", 1), ("rank", 8), ("steps", 5), ("warmup", 1), ("seed", 42),
    ]:
        p.add_argument("--" + name, type=int, default=default)
    p.add_argument("--alpha", type=float, default=16.0)
    p.add_argument("--lr", type=float, default=1e-4)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    model = Llama(a)
    with torch.no_grad():
        for name, w in model.named_parameters():
            if name.endswith("norm.weight"):
                w.fill_(1.0)
            else:
                w.normal_(0.0, 0.02)
    model.requires_grad_(False)
    for layer in model.layers:
        layer.self_attn.q_proj = LoraLinear(layer.self_attn.q_proj, a.rank, a.alpha)
        layer.self_attn.v_proj = LoraLinear(layer.self_attn.v_proj, a.rank, a.alpha)
    lora = [w for name, w in model.named_parameters() if "lora_" in name]
    opt = torch.optim.AdamW(lora, lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    model.train()

    gen = torch.Generator().manual_seed(a.seed)
    data = torch.randint(a.vocab, (2 * a.batch, a.seq), generator=gen)  # two batches, used in turn

    def step(i):
        ids = data[(i % 2) * a.batch : (i % 2 + 1) * a.batch]  # [B,T]
        opt.zero_grad(set_to_none=True)
        logits = model(ids)  # [B,T,V]
        # position j predicts token j+1: T-1 targets per sequence, mean over all of them
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, a.vocab), ids[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lora, 1.0)
        opt.step()
        return loss.item()

    for i in range(a.warmup):
        step(i)
    ms = []
    loss = float("nan")
    for i in range(a.steps):
        start = time.perf_counter()
        loss = step(a.warmup + i)
        ms.append((time.perf_counter() - start) * 1000)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    median = statistics.median(ms)
    print(
        json.dumps(
            {
                "tokens_per_second": round(a.batch * a.seq / (median / 1000), 1),
                "ms_per_step_median": round(median, 2),
                "ms_per_step_min": round(min(ms), 2),
                "step_ms": [round(x, 2) for x in ms],
                "peak_rss_bytes": peak,
                "sgemm_gflops": round(sgemm_gflops(), 2),
                "loss": round(loss, 4),
                "threads": torch.get_num_threads(),
                "parameters": sum(w.numel() for w in model.parameters()),
                "lora_parameters": sum(w.numel() for w in lora),
                "torch_version": torch.__version__,
                "blas": blas_library(),
                "attention": "scaled_dot_product_attention" if hasattr(F, "scaled_dot_product_attention") else "explicit softmax",
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
