#!/usr/bin/python3
"""dfa_recipes.py KDRUN SRCDIR — the CIFAR-100 and CINIC-10 DFA recipes run
end to end (pretrain, search, derive, distill, report) for one epoch on
small generated files in those formats: CIFAR-100's binary records
(train.bin with just over the recipe's 5000 held-out images, test.bin) and
CINIC-10's image folders of PNGs (train/valid/test, 10 class folders).
The recipes are run as written, with only their data directory replaced,
`--set epochs=1 --set batch=8`.  Exit 0 or 1.
"""
import csv, glob, os, struct, subprocess, sys, tempfile, zlib

KDRUN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "./kdrun")
SRC = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else ".")
BIG = bytes(range(256)) * 14


def cifar100(d):
    os.makedirs(d)
    for name, n, salt in (("train.bin", 5016, 1), ("test.bin", 16, 2)):
        out = bytearray()
        for r in range(n):
            out += bytes([(r * 7 + salt) % 20, (r * 11 + salt) % 100])
            o = (r * 37 + salt) % 256
            out += BIG[o:o + 3072]
        open(os.path.join(d, name), "wb").write(bytes(out))


def png(path, w, h, pix):
    """an 8-bit RGB PNG (zlib, no filter)"""
    def chunk(t, data):
        c = t + data
        return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xFFFFFFFF)
    raw = b"".join(b"\0" + pix[y * w * 3:(y + 1) * w * 3] for y in range(h))
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def cinic10(d):
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    for split, per in (("train", 2), ("valid", 1), ("test", 1)):
        for k, c in enumerate(classes):
            os.makedirs(os.path.join(d, split, c))
            for i in range(per):
                o = (k * 29 + i * 7 + len(split)) % 256
                png(os.path.join(d, split, c, "img%d.png" % i), 32, 32, BIG[o:o + 3072])


def run(recipe, old, new, work):
    text = open(os.path.join(SRC, "recipes", "dfa", recipe)).read()
    if old not in text:
        print("%s: no %s in the recipe" % (recipe, old))
        return 1
    path = os.path.join(work, recipe)
    open(path, "w").write(text.replace(old, new))
    env = dict(os.environ, KDRUN_RUNS=os.path.join(work, "runs"), KDRUN_PATH=os.path.join(SRC, "recipes"))
    r = subprocess.run([KDRUN, "--threads", "1", "--set", "epochs=1", "--set", "batch=8", path],
                       env=env, capture_output=True, text=True)
    bad = 0
    if r.returncode != 0:
        print("%s: exit %d\n%s" % (recipe, r.returncode, r.stderr))
        return 1
    for want in ("phase find: 1 epochs", "derive dfa: dfa.agg[3] = softmax(alpha) [", "phase distill: 1 epochs"):
        if want not in r.stderr:
            print("%s: no '%s' in the log" % (recipe, want))
            bad += 1
    run_dir = sorted(glob.glob(os.path.join(work, "runs", recipe[:-4], "*")))[-1]
    rows = [(x["phase"], x["metric"]) for x in csv.DictReader(open(os.path.join(run_dir, "metrics.csv")))]
    for want in (("find", "train loss (arch)"), ("find", "dfa.agg[1] softmax(alpha)[4]"),
                 ("report", "student top1 on %s.test" % ("cifar" if "cifar" in recipe else "cinic"))):
        if want not in rows:
            print("%s: no row %s in metrics.csv" % (recipe, want))
            bad += 1
    print("%s: %s" % (recipe, "ok" if not bad else "FAILED"))
    return bad


def main():
    work = tempfile.mkdtemp(prefix="kdrun-dfa-")
    cifar100(os.path.join(work, "c100"))
    cinic10(os.path.join(work, "cinic"))
    bad = run("cifar100_wrn.kdr", "/usr/share/datasets/cifar-100-binary", os.path.join(work, "c100"), work)
    bad += run("cinic10_shufflenet.kdr", "/usr/share/datasets/cinic-10", os.path.join(work, "cinic"), work)
    if not bad:
        subprocess.run(["rm", "-rf", work])
    return 1 if bad else 0


sys.exit(main())
