#!/usr/bin/env python3
"""Regenerates tests/golden/pycls_sweep.json: a sweep as pycls's own collection code
writes it (tools/sweep_collect.py `load_data`, then `json.dump(sweep, sort_keys=True)`),
collected from synthetic training logs that pycls's own logging wrote
(`logging.dump_log_data`, the lines its trainer and meters print).

Usage: python3 gen_pycls_sweep.py PATH_TO_PYCLS_CHECKOUT > pycls_sweep.json
Needs numpy, yacs and simplejson. torch, iopath and submitit are stubbed (no model is
built or trained here). The errors are made up; the format is pycls's.
"""
import json
import os
import random
import sys
import tempfile
import types


def stub_modules(checkout):
    for name in ["torch", "torch.nn", "submitit", "matplotlib", "matplotlib.pyplot",
                 "pycls.core.builders", "pycls.core.net", "pycls.core.distributed",
                 "pycls.core.checkpoint", "iopath", "iopath.common", "iopath.common.file_io"]:
        sys.modules[name] = types.ModuleType(name)
    sys.modules["torch.nn"].Module = object
    sys.modules["torch"].nn = sys.modules["torch.nn"]
    models = types.ModuleType("pycls.models")
    models.__path__ = [os.path.join(checkout, "pycls", "models")]
    sys.modules["pycls.models"] = models
    io = types.ModuleType("pycls.core.io")
    io.pathmgr = types.SimpleNamespace(exists=os.path.exists, open=open, ls=os.listdir)
    sys.modules["pycls.core.io"] = io


def main():
    checkout = sys.argv[1]
    sys.path.insert(0, checkout)
    sys.path.insert(0, os.path.join(checkout, "tools"))
    stub_modules(checkout)
    # pycls's sweep config reads the conda environment it launches jobs in.
    os.environ.setdefault("CONDA_PREFIX", "/opt/conda")
    import pycls.core.logging as logging
    import pycls.models.scaler as scaler
    from pycls.core.config import cfg, reset_cfg
    from sweep_collect import load_data

    rng = random.Random(7)
    # (depth, w0, wa, wm, group width): two-stage CIFAR RegNets as pycls's sampler
    # draws them (values on its quanta).
    jobs = [(10, 32, 25.6, 2.472, 8), (14, 64, 12.3, 2.913, 16), (7, 24, 40.1, 2.205, 4),
            (12, 48, 31.7, 2.608, 8), (16, 16, 9.5, 2.05, 2), (9, 96, 18.8, 2.731, 32)]
    root = tempfile.mkdtemp()
    sweep = []
    for i, (d, w0, wa, wm, g) in enumerate(jobs):
        params = ["REGNET.DEPTH", d, "REGNET.W0", w0, "REGNET.WA", wa, "REGNET.WM", wm,
                  "REGNET.GROUP_W", g, "REGNET.BOT_MUL", 1.0]
        reset_cfg()
        cfg.MODEL.TYPE = "regnet"
        cfg.MODEL.NUM_CLASSES = 10
        cfg.REGNET.STEM_TYPE = "res_stem_cifar"
        cfg.REGNET.STEM_W = 16
        cfg.REGNET.SE_ON = True
        cfg.OPTIM.MAX_EPOCH = 3
        cfg.merge_from_list(params)
        scaler.scale_model()
        cfg.DESC = " ".join("{} {}".format(k, v) for k, v in zip(params[0::2], params[1::2]))
        cfg.RNG_SEED = i
        lines = [logging.dump_log_data(cfg, "cfg", None),
                 logging.dump_log_data({"flops": 120_000_000 + 1000 * i,
                                        "params": 1_500_000 + 10 * i,
                                        "acts": 900_000 + i}, "complexity")]
        # Job 4 crashed before testing; job 5 has no EMA (the fallback to test_epoch).
        epochs = 0 if i == 4 else 3
        best = {"test": 100.0, "test_ema": 100.0}
        for e in range(1, epochs + 1):
            lines.append(logging.dump_log_data({
                "epoch": "{}/3".format(e), "time_avg": 0.1, "time_epoch": 10.0,
                "eta": "0:00:10", "top1_err": 60.0 - 5 * e, "top5_err": 10.0,
                "loss": 1.5, "lr": 0.1, "mem": 100}, "train_epoch"))
            for phase in ["test", "test_ema"] if i != 5 else ["test"]:
                err = round(rng.uniform(20.0, 60.0), 2)
                best[phase] = min(best[phase], err)
                lines.append(logging.dump_log_data({
                    "epoch": "{}/3".format(e), "time_avg": 0.05, "time_epoch": 2.0,
                    "top1_err": err, "top5_err": 5.0, "min_top1_err": best[phase],
                    "min_top5_err": 5.0, "mem": 100}, phase + "_epoch"))
        job_dir = os.path.join(root, "logs", "{:06d}".format(i))
        os.makedirs(job_dir)
        log_file = os.path.join(job_dir, "stdout.log")
        with open(log_file, "w") as f:
            f.write("".join("[trainer.py: 1]: " + l + "\n" for l in lines))
        with open(os.path.join(job_dir, "stderr.log"), "w") as f:
            f.write("Traceback: out of memory\n" if i == 4 else "")
        data = load_data(log_file)
        data["log_file"] = "logs/{:06d}/stdout.log".format(i)
        data["err_file"] = "logs/{:06d}/stderr.log".format(i)
        sweep.append(data)
    json.dump(sweep, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
