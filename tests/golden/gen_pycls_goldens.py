#!/usr/bin/env python3
"""Regenerates tests/golden/pycls.json by running pycls's own code.

Usage: python3 gen_pycls_goldens.py PATH_TO_PYCLS_CHECKOUT > pycls.json
       python3 gen_pycls_goldens.py PATH_TO_PYCLS_CHECKOUT anynet > pycls_anynet.json
       python3 gen_pycls_goldens.py PATH_TO_PYCLS_CHECKOUT sampler > pycls_sampler.json
       python3 gen_pycls_goldens.py PATH_TO_PYCLS_CHECKOUT emit DIR... > pycls_emit.json
           (each DIR written by `regnet sweep --emit-pycls DIR` with the flags in
           DIR/args, one per line)
Needs numpy and yacs (a pycls checkout with pycls/sweep/, e.g. commit bd65938). torch and iopath are stubbed: the shape and complexity
functions we call never touch them. Nothing from pycls is copied here; the
golden numbers come from executing it.
"""
import json
import os
import random
import sys
import types


def stub_modules():
    torch = types.ModuleType("torch")
    nn = types.ModuleType("torch.nn")
    nn.Module = object
    torch.nn = nn
    sys.modules["torch"] = torch
    sys.modules["torch.nn"] = nn
    # Skip pycls/models/__init__.py (it pulls in the trainer and its deps).
    models = types.ModuleType("pycls.models")
    models.__path__ = [os.path.join(sys.argv[1], "pycls", "models")]
    sys.modules["pycls.models"] = models
    for name in ["iopath", "iopath.common", "iopath.common.file_io"]:
        sys.modules[name] = types.ModuleType(name)
    sys.modules["iopath.common.file_io"].PathManagerFactory = types.SimpleNamespace(
        get=lambda *a, **k: None
    )


def anynet_complexity(dataset, se, depths, widths, strides, bot_muls, group_ws):
    """pycls's AnyNet.complexity for these per-stage lists in the dataset's network."""
    from pycls.models.anynet import AnyNet

    imagenet = dataset == "imagenet"
    params = {
        "stem_type": "simple_stem_in" if imagenet else "res_stem_cifar",
        "stem_w": 32 if imagenet else 16,
        "block_type": "res_bottleneck_block",
        "depths": depths,
        "widths": widths,
        "strides": strides,
        "bot_muls": bot_muls,
        "group_ws": group_ws,
        "head_w": 0,
        "se_r": 0.25 if se else 0,
        "num_classes": 1000 if imagenet else 10,
    }
    res = 224 if imagenet else 32
    cx = {"h": res, "w": res, "flops": 0, "params": 0, "acts": 0}
    return AnyNet.complexity(cx, params)


def case(name, d, w0, wa, wm, g, b, q, se, dataset):
    from pycls.models.blocks import adjust_block_compatibility
    from pycls.models.regnet import generate_regnet

    ws, ds, num_stages, total_stages, ws_all, ws_cont = generate_regnet(wa, w0, wm, d, q)
    bot_mul = 1.0 / b
    bs = [bot_mul for _ in ws]
    gs = [g for _ in ws]
    adj_ws, _, adj_gs = adjust_block_compatibility(ws, bs, gs)
    cx = anynet_complexity(dataset, se, ds, adj_ws, [2 for _ in ws], bs, adj_gs)
    return {
        "name": name,
        "input": {"d": d, "w0": w0, "wa": wa, "wm": wm, "g": g, "b": b, "q": q,
                  "se": se, "dataset": dataset},
        "block_widths_continuous": ws_cont,
        "block_widths": ws_all,
        "raw_widths": ws,
        "depths": ds,
        "num_stages": num_stages,
        "total_stages": int(total_stages),
        "widths": adj_ws,
        "group_widths": adj_gs,
        "flops": cx["flops"],
        "params": cx["params"],
        "acts": cx["acts"],
    }


PRESETS_X = [
    ("200MF", 13, 24, 36.44, 2.49, 8), ("400MF", 22, 24, 24.48, 2.54, 16),
    ("600MF", 16, 48, 36.97, 2.24, 24), ("800MF", 16, 56, 35.73, 2.28, 16),
    ("1.6GF", 18, 80, 34.01, 2.25, 24), ("3.2GF", 25, 88, 26.31, 2.25, 48),
    ("4.0GF", 23, 96, 38.65, 2.43, 40), ("6.4GF", 17, 184, 60.83, 2.07, 56),
    ("8.0GF", 23, 80, 49.56, 2.88, 120), ("12GF", 19, 168, 73.36, 2.37, 112),
    ("16GF", 22, 216, 55.59, 2.1, 128), ("32GF", 23, 320, 69.86, 2.0, 168),
]
PRESETS_Y = [
    ("200MF", 13, 24, 36.44, 2.49, 8), ("400MF", 16, 48, 27.89, 2.09, 8),
    ("600MF", 15, 48, 32.54, 2.32, 16), ("800MF", 14, 56, 38.84, 2.4, 16),
    ("1.6GF", 27, 48, 20.71, 2.65, 24), ("3.2GF", 21, 80, 42.63, 2.66, 24),
    ("4.0GF", 22, 96, 31.41, 2.24, 64), ("6.4GF", 25, 112, 33.22, 2.27, 72),
    ("8.0GF", 17, 192, 76.82, 2.19, 56), ("12GF", 19, 168, 73.36, 2.37, 112),
    ("16GF", 18, 200, 106.23, 2.48, 112), ("32GF", 20, 232, 115.89, 2.53, 232),
]


def anynet_case(name, stages, se, dataset, fix):
    """An AnyNet from per-stage lists; with `fix`, pycls's compatibility fix first."""
    from pycls.models.blocks import adjust_block_compatibility

    ws = [s["width"] for s in stages]
    bs = [s["bot_mul"] for s in stages]
    gs = [s["group_w"] for s in stages]
    if fix:
        ws, bs, gs = adjust_block_compatibility(ws, bs, gs)
    depths = [s["depth"] for s in stages]
    strides = [s["stride"] for s in stages]
    cx = anynet_complexity(dataset, se, depths, ws, strides, bs, gs)
    return {
        "name": name,
        "stages": stages,
        "se": se,
        "dataset": dataset,
        "fix": fix,
        "widths": [int(w) for w in ws],
        "group_widths": [int(g) for g in gs],
        "flops": cx["flops"],
        "params": cx["params"],
        "acts": cx["acts"],
    }


def stage(depth, width, bot_mul, group_w, stride):
    return {"depth": depth, "width": width, "bot_mul": bot_mul, "group_w": group_w,
            "stride": stride}


def anynet_main():
    cases = [
        # Widths that fall, then rise; every stage its own b and g (valid as given).
        anynet_case("non_monotone", [stage(2, 64, 1.0, 8, 2), stage(1, 32, 0.5, 16, 2),
                                     stage(3, 128, 0.25, 4, 2), stage(1, 96, 1.0, 32, 1)],
                    False, "imagenet", False),
        # pycls floors groups = w_b // g: w_b = 40, g = 16 gives 2 groups of 20.
        anynet_case("floor_groups", [stage(1, 40, 1.0, 16, 1), stage(2, 80, 0.5, 16, 2)],
                    True, "cifar10", False),
        anynet_case("one_stage_stride_1", [stage(4, 16, 1.0, 1, 1)], False, "cifar10", False),
        # An inverted bottleneck (bot_mul 2) beside ordinary ones.
        anynet_case("mixed_b_fixed", [stage(1, 24, 2.0, 8, 2), stage(2, 56, 0.25, 8, 2),
                                      stage(4, 152, 0.5, 24, 2), stage(7, 368, 1.0, 8, 2)],
                    True, "imagenet", True),
    ]
    rng = random.Random(20200330)
    for i in range(200):
        stages = []
        for _ in range(rng.randint(1, 5)):
            stages.append(stage(rng.randint(1, 16), 8 * rng.randint(1, 128),
                                rng.choice([1.0, 1.0, 0.5, 0.25, 2.0]),
                                rng.choice([1, 2, 4, 8, 16, 32]), rng.choice([1, 2, 2, 2])))
        se = rng.random() < 0.5
        ds = rng.choice(["imagenet", "cifar10"])
        cases.append(anynet_case("random_%03d" % i, stages, se, ds, True))
    json.dump({"generator": "tests/golden/gen_pycls_goldens.py anynet", "cases": cases},
              sys.stdout, indent=1)


SAMPLER_RANGES = [
    # pycls's regnet_sampler defaults, its CIFAR sweep's ranges, and a bottleneck range.
    {"DEPTH": [12, 28], "W0": [8, 256], "WA": [8.0, 256.0], "WM": [2.0, 3.0],
     "GROUP_W": [8, 128], "BOT_MUL": [1.0, 1.0], "NUM_STAGES": [4, 4]},
    {"DEPTH": [6, 16], "W0": [8, 256], "WA": [8.0, 256.0], "WM": [2.0, 3.0],
     "GROUP_W": [1, 32], "BOT_MUL": [1.0, 1.0], "NUM_STAGES": [2, 2]},
    {"DEPTH": [4, 20], "W0": [16, 64], "WA": [0.5, 64.0], "WM": [1.5, 4.0],
     "GROUP_W": [2, 64], "BOT_MUL": [0.25, 1.0], "NUM_STAGES": [1, 4]},
]


def sampler_main():
    """pycls's own regnet_sampler, constraint check and scale_model (factor 1, which
    its sweep set-up runs on every config) on replayed uniform draws: each case holds
    the draws np.random.uniform returned, pycls's sampled parameters, whether pycls
    keeps them, and the AnyNet stages it converts them to."""
    for name in ["matplotlib", "matplotlib.pyplot", "pycls.core.builders", "pycls.core.net"]:
        sys.modules[name] = types.ModuleType(name)
    import numpy as np
    import pycls.models.scaler as scaler
    import pycls.sweep.samplers as samplers
    from pycls.core.config import cfg, reset_cfg

    rng = random.Random(20200330)
    draws = []

    def replay_uniform(low=0.0, high=1.0):
        u = rng.random()
        draws.append(u)
        return low + (high - low) * u

    np.random.uniform = replay_uniform
    cases = []
    for i in range(600):
        ranges = SAMPLER_RANGES[i % len(SAMPLER_RANGES)]
        sampler = types.SimpleNamespace(**ranges)
        draws.clear()
        params = samplers.regnet_sampler(sampler)
        reset_cfg()
        cfg.MODEL.TYPE = "regnet"
        cfg.merge_from_list(params)
        constraints = types.SimpleNamespace(
            REGNET=types.SimpleNamespace(NUM_STAGES=ranges["NUM_STAGES"]))
        kept = samplers.check_regnet_constraints(constraints)
        case = {"ranges": ranges, "draws": list(draws),
                "sampled": {k.split(".")[1].lower(): v for k, v in zip(params[0::2], params[1::2])},
                "kept": kept}
        if kept:
            scaler.scale_model()
            an = cfg.ANYNET
            case["anynet"] = {"depths": list(an.DEPTHS), "widths": [int(w) for w in an.WIDTHS],
                              "bot_muls": [float(b) for b in an.BOT_MULS],
                              "group_ws": [int(g) for g in an.GROUP_WS]}
        cases.append(case)
    json.dump({"generator": "tests/golden/gen_pycls_goldens.py sampler", "cases": cases},
              sys.stdout, indent=None, separators=(",", ":"))


def emit_main(dirs):
    """pycls's own config loaders on the sweeps `regnet sweep --emit-pycls` wrote: every
    file parses (yacs rejects unknown keys and wrong types), and each model config,
    merged over pycls's defaults, builds an AnyNet whose complexity pycls computes."""
    os.environ.setdefault("CONDA_PREFIX", "/none")
    for name in ["matplotlib", "matplotlib.pyplot", "pycls.core.builders", "pycls.core.net"]:
        sys.modules[name] = types.ModuleType(name)
    import pycls.sweep.config as sweep_config
    from pycls.core.config import cfg, reset_cfg
    from pycls.models.anynet import AnyNet

    sweeps = []
    for d in dirs:
        with open(os.path.join(d, "args")) as f:
            args = f.read().split()
        files = {}
        for root, _, names in os.walk(d):
            for n in names:
                if n.endswith(".yaml"):
                    path = os.path.join(root, n)
                    with open(path) as f:
                        files[os.path.relpath(path, d)] = f.read()
        sc = sweep_config.sweep_cfg.clone()
        sc.merge_from_file(os.path.join(d, "sweep_cfg.yaml"))
        models = []
        for name in sorted(k for k in files if k.startswith("cfgs/")):
            reset_cfg()
            cfg.merge_from_file(os.path.join(d, name))
            res = cfg.TRAIN.IM_SIZE
            cx = {"h": res, "w": res, "flops": 0, "params": 0, "acts": 0}
            cx = AnyNet.complexity(cx)
            models.append({"cfg": name, "desc": cfg.DESC, "flops": cx["flops"],
                           "params": cx["params"], "acts": cx["acts"],
                           "max_epoch": cfg.OPTIM.MAX_EPOCH, "base_lr": cfg.OPTIM.BASE_LR,
                           "rng_seed": cfg.RNG_SEED})
        sweeps.append({"args": args, "files": files, "models": models,
                       "num_configs": sc.SETUP.NUM_CONFIGS,
                       "base_lr": sc.SETUP.BASE_CFG.OPTIM.BASE_LR})
    json.dump({"generator": "tests/golden/gen_pycls_goldens.py emit", "sweeps": sweeps},
              sys.stdout, indent=1)


def main():
    sys.path.insert(0, sys.argv[1])
    stub_modules()
    if sys.argv[2:] == ["anynet"]:
        anynet_main()
        return
    if sys.argv[2:] == ["sampler"]:
        sampler_main()
        return
    if sys.argv[2:3] == ["emit"]:
        emit_main(sys.argv[3:])
        return
    cases = []
    for fam, presets, se in (("x", PRESETS_X, False), ("y", PRESETS_Y, True)):
        for tag, d, w0, wa, wm, g in presets:
            for ds in ("imagenet", "cifar10"):
                name = "regnet%s-%s/%s" % (fam, tag.lower(), ds)
                cases.append(case(name, d, w0, wa, wm, g, 1, 8, se, ds))
    cases.append(case("cifar_best", 12, 96, 19.5, 2.942, 8, 1, 8, True, "cifar10"))
    cases.append(case("paper_example", 4, 32, 8.0, 2.0, 8, 1, 8, False, "imagenet"))
    cases.append(case("mini_regnetx", 6, 24, 16.0, 2.5, 8, 1, 8, False, "cifar10"))
    # NumPy rounds halves to even: 20/8 = 2.5 -> 2 (Rust's round gives 3).
    cases.append(case("half_even_quantize", 2, 8, 12.0, 2.5, 8, 1, 8, False, "imagenet"))
    # s_1 = log(2)/log(4) = 0.5 exactly -> exponent 0, one stage.
    cases.append(case("half_even_exponent", 2, 8, 8.0, 4.0, 8, 1, 8, False, "imagenet"))
    # Group width larger than the bottleneck: clipped, then rounded half-even.
    cases.append(case("compat_round", 8, 24, 8.0, 1.5, 16, 1, 8, False, "imagenet"))
    cases.append(case("compat_bottleneck", 16, 48, 27.89, 2.09, 24, 4, 8, True, "imagenet"))
    cases.append(case("inverted_bottleneck", 10, 32, 20.0, 2.2, 8, 0.5, 8, False, "cifar10"))
    rng = random.Random(20200330)
    for i in range(300):
        q = rng.choice([1, 4, 8, 8, 8, 16])
        d = rng.randint(1, 64)
        w0 = q * rng.randint(1, max(1, 256 // q))
        wa = round(rng.uniform(0, 256), 2)
        wm = round(rng.uniform(1.05, 4.0), 3)
        g = rng.choice([1, 2, 4, 8, 16, 24, 32, 48, 64, 128])
        b = rng.choice([1, 1, 2, 4, 0.5, 0.25])
        se = rng.random() < 0.5
        ds = rng.choice(["imagenet", "cifar10"])
        cases.append(case("random_%03d" % i, d, w0, wa, wm, g, b, q, se, ds))
    json.dump({"generator": "tests/golden/gen_pycls_goldens.py", "cases": cases},
              sys.stdout, indent=1)


if __name__ == "__main__":
    main()
