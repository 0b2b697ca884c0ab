#!/usr/bin/env python3
"""table.py [--seeds 1,2,3] [--threads N] [--kdrun PATH] [--work DIR] [-- KDRUN_ARGS...]

The README table (KDRUN_ARGS, e.g. --set epochs=1, go to every kdrun run).

For each seed (all phases' seeds set with --set seed=N):
  1. kdrun recipes/adarec/synthetic.kdr: teacher, search, derive, fine-tune
     (rows popularity, teacher, AdaRec);
  2. derive_net.py on its state: the derived student as a discrete net;
  3. a generated recipe with the same data and teacher (retrained with the
     same seed: the same weights) and the derived net trained twice for
     EPOCHS epochs on all users: alone (cross-entropy) and with KD only
     ((1 - gamma) CE + gamma kd(logits, T: 1), no embedding/EMD terms, no
     search).  Params, MACs and inference time of AdaRec's student are
     those of this discrete net (the fine-tuned supernet computes the same
     function with its other candidates weighted 0).
Inference time per user: TIMING.kdr (the teacher, the supernet and the
derived net, untrained: the time does not depend on the weights) is
evaluated REPEAT times on one thread; each report gives the fastest batch's
forward time per user; the best of the repeats is kept (the machine may be
shared).  --reuse: a seed whose logs are in the work directory is not run
again.
Prints a markdown table (mean +- std over the seeds, then per seed) and the
architectures.  Python standard library only; run from the source tree.
"""
import csv
import glob
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
EPOCHS = 5

BASELINES = """use "nets/nextitnet.kdr"
use "{derived}"

let n_items = 300
let dim = 32
let gamma = 0.5

data sessions = synth_sequences(users: 2000, items: n_items, length: 20, max_len: 20,
                                negatives: 100, seed: 7) {{
  train "train"
  test "test"
}}

model teacher = nextitnet(num_items: n_items + 1, dim: dim, blocks: 4)
model alone = adarec_derived(num_items: n_items + 1, dim: dim)
model kdonly = adarec_derived(num_items: n_items + 1, dim: dim)

phase pretrain {{
  train teacher on sessions.train
  epochs 8
  batch 128
  seed 1
  optimizer adam(lr: 1e-3)
  loss ce(teacher.logits, target)
}}

phase student_alone {{
  train alone on sessions.train
  epochs {epochs}
  batch 128
  seed 1
  optimizer adam(lr: 1e-3)
  loss ce(alone.logits, target)
}}

phase student_kd {{
  train kdonly on sessions.train
  teacher teacher
  epochs {epochs}
  batch 128
  seed 1
  optimizer adam(lr: 1e-3)
  loss (1 - gamma) * ce(kdonly.logits, target) + gamma * kd(kdonly.logits, teacher.logits, T: 1)
}}

report {{
  evaluate teacher, alone, kdonly on sessions.test: hr@10, ndcg@10, mrr@10, params, macs
}}
"""


TIMING = """use "nets/nextitnet.kdr"
use "nets/adarec_cell.kdr"
use "{derived}"

data sessions = synth_sequences(users: 2000, items: 300, length: 20, max_len: 20,
                                negatives: 100, seed: 7) {{
  train "train"
  test "test"
}}

model teacher = nextitnet(num_items: 301, dim: 32, blocks: 4)
model supernet = adarec_student(num_items: 301, dim: 32, cells: 2)
model derived = adarec_derived(num_items: 301, dim: 32)

report {{
  evaluate teacher, supernet, derived on sessions.test: params, macs
}}
"""
REPEAT = 3
REUSE = False


def run(cmd, log):
    if REUSE and os.path.exists(log):
        text = open(log).read()
        m = re.search(r"^results \((.*)\):", text, re.M)
        if m and os.path.isdir(m.group(1)):
            return m.group(1), text, 0.0
    t0 = time.time()
    with open(log, "w") as f:
        rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
    dt = time.time() - t0
    text = open(log).read()
    if rc != 0:
        raise SystemExit("failed (%d): %s\n%s" % (rc, " ".join(cmd), text[-2000:]))
    m = re.search(r"^results \((.*)\):", text, re.M)
    return m.group(1), text, dt


def rows(run_dir, text):
    """model -> {metric: value} from metrics.csv and the us/user of stdout"""
    out = {}
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        for r in csv.reader(f):
            if len(r) == 4 and r[0] == "report":
                m = re.match(r"(\S+) (\S+) on ", r[2])
                if m:
                    out.setdefault(m.group(1), {})[m.group(2)] = float(r[3])
    for m in re.finditer(r"^  (\S+)\s+\S+\s+hr@10.*?([0-9.]+) us/user$", text, re.M):
        out.setdefault(m.group(1), {})["us"] = float(m.group(2))
    return out


def main():
    args = sys.argv[1:]
    extra = []
    if "--" in args:
        extra = args[args.index("--") + 1:]
        args = args[:args.index("--")]
    global REUSE
    if "--reuse" in args:
        REUSE = True
        args.remove("--reuse")
    opt = {"--seeds": "1,2,3", "--threads": "2", "--kdrun": "./kdrun", "--work": "runs/adarec-table"}
    while args:
        if args[0] not in opt or len(args) < 2:
            raise SystemExit(__doc__)
        opt[args[0]] = args[1]
        args = args[2:]
    work = os.path.abspath(opt["--work"])
    os.makedirs(work, exist_ok=True)
    env_runs = os.path.join(work, "runs")
    os.environ["KDRUN_RUNS"] = env_runs
    seeds = [int(s) for s in opt["--seeds"].split(",")]
    table = {}     # (row, seed) -> metrics
    archs = {}
    for seed in seeds:
        base = [opt["--kdrun"], "--threads", opt["--threads"], "--set", "seed=%d" % seed] + extra
        rd, text, dt1 = run(base + [os.path.join(HERE, "synthetic.kdr")],
                            os.path.join(work, "synthetic-s%d.log" % seed))
        r = rows(rd, text)
        states = glob.glob(os.path.join(rd, "state.safetensors"))
        derived = os.path.join(work, "derived_s%d.kdr" % seed)
        with open(derived, "w") as f:
            subprocess.check_call([sys.executable, os.path.join(HERE, "derive_net.py"), states[0]], stdout=f)
        archs[seed] = [l for l in open(derived) if l.startswith("#   cell")]
        rec = os.path.join(work, "baselines_s%d.kdr" % seed)
        with open(rec, "w") as f:
            f.write(BASELINES.format(derived=derived, epochs=EPOCHS))
        rd2, text2, dt2 = run(base + [rec], os.path.join(work, "baselines-s%d.log" % seed))
        r2 = rows(rd2, text2)
        table[("popularity", seed)] = r["popularity"]
        table[("teacher", seed)] = r["teacher"]
        table[("alone", seed)] = r2["alone"]
        table[("kdonly", seed)] = r2["kdonly"]
        ada = dict(r["student"])
        for k in ("params", "macs", "us"):
            ada[k] = r2["alone"][k]         # the discrete derived net's
        ada["supernet_us"] = r["student"].get("us", 0)
        table[("adarec", seed)] = ada
        # inference time on one thread, best of REPEAT runs
        rec = os.path.join(work, "timing_s%d.kdr" % seed)
        with open(rec, "w") as f:
            f.write(TIMING.format(derived=derived))
        best = {}
        for k in range(REPEAT):
            rd3, text3, _ = run([opt["--kdrun"], "--threads", "1", rec],
                                os.path.join(work, "timing-s%d-%d.log" % (seed, k)))
            for name, v in rows(rd3, text3).items():
                if "us" in v:
                    best[name] = min(best.get(name, 1e30), v["us"])
        table[("teacher", seed)]["us"] = best["teacher"]
        for key in ("alone", "kdonly", "adarec"):
            table[(key, seed)]["us"] = best["derived"]
        ada["supernet_us"] = best["supernet"]
        print("seed %d: synthetic.kdr %.0f s (%s), baselines %.0f s (%s)" % (seed, dt1, rd, dt2, rd2),
              flush=True)
    names = [("popularity", "popularity"), ("teacher", "teacher (NextItNet, 4 blocks)"),
             ("alone", "student of the searched size, alone"), ("kdonly", "student, KD only"),
             ("adarec", "AdaRec (search + EMD + cost, fine-tuned)")]
    cols = ["hr@10", "ndcg@10", "mrr@10"]
    print("\n| model | HR@10 | NDCG@10 | MRR@10 | params | MACs | us/user |")
    print("|---|---|---|---|---|---|---|")
    for key, label in names:
        cells = []
        for c in cols:
            v = [table[(key, s)][c] for s in seeds]
            sd = statistics.stdev(v) if len(v) > 1 else 0.0
            cells.append("%.4f ± %.4f" % (statistics.mean(v), sd))
        if key == "popularity":
            cells += ["-", "-", "-"]
        else:
            p = [table[(key, s)]["params"] for s in seeds]
            m = [table[(key, s)]["macs"] for s in seeds]
            u = [table[(key, s)].get("us", 0) for s in seeds]
            same = len(set(p)) == 1
            cells.append("%d" % p[0] if same else "%.0f (%s)" % (statistics.mean(p), "/".join("%d" % x for x in p)))
            cells.append("%d" % m[0] if len(set(m)) == 1 else "%.0f (%s)" % (statistics.mean(m), "/".join("%d" % x for x in m)))
            cells.append("%.1f" % statistics.mean(u))
        print("| %s | %s |" % (label, " | ".join(cells)))
    print("\nper seed (HR@10 / NDCG@10 / MRR@10):\n")
    print("| model | " + " | ".join("seed %d" % s for s in seeds) + " |")
    print("|---|" + "---|" * len(seeds))
    for key, label in names:
        print("| %s | %s |" % (label, " | ".join("%.4f / %.4f / %.4f" % tuple(table[(key, s)][c] for c in cols)
                                                for s in seeds)))
    for s in seeds:
        print("\nseed %d, searched architecture:\n" % s)
        print("".join("    " + l[1:].strip() + "\n" for l in archs[s]).rstrip())
    print("\nus/user: one thread, the fastest batch of the test split's forward passes, best of %d runs."
          % REPEAT)
    print("The supernet (all candidates computed, as the fine-tuned AdaRec student is evaluated by "
          "kdrun): %s us/user" % "/".join("%.1f" % table[("adarec", s)]["supernet_us"] for s in seeds))


if __name__ == "__main__":
    main()
