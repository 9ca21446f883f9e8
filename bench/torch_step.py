#!/usr/bin/env python3
"""PyTorch reference for bench/gpu-step.bench.ts and bench/cpu-step.bench.ts: the same GPT-2
LoRA training step (transformers GPT2LMHeadModel, PEFT LoRA, Adam, fp32, no dropout) timed on
CUDA or on CPU with a fixed thread count. Prints one JSON object per configuration.

  python3 bench/torch_step.py --device cuda --config 1024x8x256x16 --config 256x4x128x8
  python3 bench/torch_step.py --device cpu --threads 2 --config 256x4x128x8

A config is D x LAYERS x SEQ x BATCH (heads = D / 64, at least 4).
"""
import argparse
import json
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import GPT2Config, GPT2LMHeadModel


def parse(cfg):
    d, layers, seq, batch = (int(x) for x in cfg.split("x"))
    return d, layers, seq, batch


def heads(d):
    return max(4, d // 64)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--config", action="append", required=True)
    ap.add_argument("--vocab", type=int, default=256)
    ap.add_argument("--r", type=int, default=8)
    ap.add_argument("--targets", default="c_attn,c_proj")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    # Plain fp32 (no TF32 tensor-core rounding), as the tfjs backends compute.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    for cfg in a.config:
        d, layers, seq, batch = parse(cfg)
        torch.manual_seed(0)
        conf = GPT2Config(
            vocab_size=a.vocab, n_positions=seq, n_embd=d, n_layer=layers, n_head=heads(d),
            activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
            tie_word_embeddings=True,
        )
        model = GPT2LMHeadModel(conf).to(dev)
        model = get_peft_model(model, LoraConfig(r=a.r, lora_alpha=2 * a.r, lora_dropout=0.0,
                                                 target_modules=a.targets.split(","), fan_in_fan_out=True))
        opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
        g = torch.Generator().manual_seed(1)
        x = torch.randint(0, a.vocab, (batch, seq), generator=g).to(dev)
        y = torch.randint(0, a.vocab, (batch, seq), generator=g).to(dev)

        def step():
            out = model(input_ids=x)
            loss = torch.nn.functional.cross_entropy(out.logits.reshape(-1, a.vocab), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return loss

        def forward():
            with torch.no_grad():
                out = model(input_ids=x)
                return torch.nn.functional.cross_entropy(out.logits.reshape(-1, a.vocab), y.reshape(-1))

        def timed(f, n):
            for _ in range(a.warmup):
                f()
            sync()
            t0 = time.perf_counter()
            for _ in range(n):
                f()
            sync()
            return (time.perf_counter() - t0) * 1000 / n

        step_ms = timed(step, a.steps)
        fwd_ms = timed(forward, a.steps)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        print(json.dumps({
            "config": cfg, "device": a.device, "threads": torch.get_num_threads(),
            "torch": torch.__version__, "gpu": torch.cuda.get_device_name(0) if dev.type == "cuda" else None,
            "stepMs": step_ms, "forwardMs": fwd_ms, "trainable": trainable,
        }), flush=True)
        del model, opt
        if dev.type == "cuda":
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
