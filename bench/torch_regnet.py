#!/usr/bin/env python3
"""PyTorch peer for the training benchmark.

Builds the network that `regnet shape --json` describes (its `net` key: stem and
block specs), prints its parameter count (it must equal ours), then times training
steps (forward, backward, SGD update) on random 32x32 batches.

Usage: regnet shape ... --dataset cifar10 --json | python3 bench/torch_regnet.py --batch 128 --steps 10
"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn


def conv_bn(w_in, w_out, k, stride=1, groups=1):
    conv = nn.Conv2d(w_in, w_out, k, stride=stride, padding=(k - 1) // 2, groups=groups, bias=False)
    return nn.Sequential(conv, nn.BatchNorm2d(w_out))


class SE(nn.Module):
    def __init__(self, w_in, w_se):
        super().__init__()
        self.reduce = nn.Conv2d(w_in, w_se, 1, bias=True)
        self.expand = nn.Conv2d(w_se, w_in, 1, bias=True)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.expand(torch.relu(self.reduce(s))))


class Block(nn.Module):
    def __init__(self, b):
        super().__init__()
        w_in, w_out, w_b, s = b["w_in"], b["w_out"], b["w_b"], b["stride"]
        self.a = conv_bn(w_in, w_b, 1)
        self.b = conv_bn(w_b, w_b, 3, s, b["groups"])
        self.se = SE(w_b, b["w_se"]) if b["w_se"] else None
        self.c = conv_bn(w_b, w_out, 1)
        self.proj = conv_bn(w_in, w_out, 1, s) if (w_in != w_out or s != 1) else None

    def forward(self, x):
        short = self.proj(x) if self.proj is not None else x
        f = torch.relu(self.a(x))
        f = torch.relu(self.b(f))
        if self.se is not None:
            f = self.se(f)
        return torch.relu(short + self.c(f))


class Net(nn.Module):
    def __init__(self, spec):
        super().__init__()
        stem = spec["stem"]
        self.stem = conv_bn(3, stem["w_out"], 3, stem["stride"])
        blocks = [Block(b) for stage in spec["stages"] for b in stage]
        self.blocks = nn.Sequential(*blocks)
        head_w = blocks[-1].c[0].out_channels if blocks else stem["w_out"]
        self.fc = nn.Linear(head_w, spec["num_classes"])

    def forward(self, x):
        x = self.blocks(torch.relu(self.stem(x)))
        return self.fc(x.mean((2, 3)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu, or cuda for the GPU peer")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    spec = json.load(sys.stdin)["net"]
    dev = torch.device(args.device)
    net = Net(spec).to(dev)
    params = sum(p.numel() for p in net.parameters())
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    res = 32 if spec["dataset"] == "cifar10" else 224
    x = torch.randn(args.batch, 3, res, res, device=dev)
    y = torch.randint(0, spec["num_classes"], (args.batch,), device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(args.warmup):
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    seconds = time.perf_counter() - start
    print(json.dumps({
        "params": params,
        "images_per_s": args.batch * args.steps / seconds,
        "ms_per_step": 1000 * seconds / args.steps,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name() if dev.type == "cuda" else "cpu",
    }))


if __name__ == "__main__":
    main()
