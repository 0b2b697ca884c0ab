#!/usr/bin/python3
"""kdrun_weights.py - convert model weights between PyTorch and kdrun.

Installed as kdrun-weights (kdrun-weights(1)); in the source tree tools/kdrun_weights.py.

  kdrun_weights.py to-kdrun [--arch A] [--like REF.safetensors] IN.pth OUT.safetensors
  kdrun_weights.py to-torch [--arch A] [--like REF.pth] IN.safetensors OUT.pth
  kdrun_weights.py list FILE                     names and shapes (.pth or .safetensors)

kdrun names a model's tensors by their path inside the model ("conv0.weight",
"block[1,2].bn1.running_var", "linear0.bias"): that is what
`model M = T(...) from "FILE"` reads and what a run writes to
models/<M>.safetensors.  PyTorch names them by module attributes.

--arch (default: auto, from the names) maps names by rule for the zoo's nets
as RepDistiller defines them:
  resnet   models/resnet.py  (resnet8..110, resnet8x4, resnet32x4) <-> nets/resnet.kdr
  wrn      models/wrn.py     (wrn_16_2, wrn_40_2, ...)             <-> nets/wrn.kdr
Any other net (VGG, MobileNetV2, ShuffleNetV2, your own) is converted with
--like: a file with the target side's names (a kdrun models/<M>.safetensors of
the same template, e.g. from a one-epoch run, or a PyTorch state_dict of the
architecture, `torch.save(net.state_dict(), "ref.pth")`).  Tensors are then
paired layer by layer in order (the order kdrun builds the net and the order
PyTorch registers the modules; the zoo's nets are written so that the two
agree) and every pair must have the same tensor names and shapes.

Every conversion is strict: a tensor left over on either side, or a shape
that differs, stops it with a message naming the tensor.  IN.pth may be a
state_dict or a checkpoint holding one under "model", "state_dict" or
"net" (RepDistiller, torchdistill, mdistiller); a "module." prefix
(DataParallel) is removed.  num_batches_tracked buffers are dropped on the
way in and written as 0 on the way out.
"""
import argparse
import collections
import json
import os
import re
import struct
import sys

try:
    import torch
except ImportError:
    sys.stderr.write("kdrun-weights: needs PyTorch for Python 3 (Debian: apt-get install python3-torch)\n")
    sys.exit(3)


def fail(msg):
    sys.stderr.write("kdrun_weights: %s\n" % msg)
    sys.exit(1)


# ---- safetensors (float32), without the safetensors package -----------------------------

def st_read(path):
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        fail("%s: not a safetensors file" % path)
    n = struct.unpack("<Q", raw[:8])[0]
    if 8 + n > len(raw):
        fail("%s: header longer than the file" % path)
    head = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = head.pop("__metadata__", {}) or {}
    data = raw[8 + n:]
    out = collections.OrderedDict()
    for name, e in sorted(head.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        if e["dtype"] != "F32":
            fail("%s: tensor %s is %s, not F32" % (path, name, e["dtype"]))
        b, en = e["data_offsets"]
        t = torch.frombuffer(bytearray(data[b:en]), dtype=torch.float32) if en > b else torch.zeros(0)
        out[name] = t.reshape(e["shape"]).clone()
    return out, meta


def st_write(path, tensors, meta):
    head = collections.OrderedDict()
    if meta:
        head["__metadata__"] = {str(k): str(v) for k, v in meta.items()}
    blobs, off = [], 0
    for name, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        head[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(head, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def torch_read(path):
    obj = torch.load(path, map_location="cpu")
    for key in ("model", "state_dict", "net"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        fail("%s: no state_dict in it" % path)
    out = collections.OrderedDict()
    for k, v in obj.items():
        if not torch.is_tensor(v):
            continue
        if k.startswith("module."):
            k = k[len("module."):]
        if k.endswith("num_batches_tracked"):
            continue
        out[k] = v.detach().to(torch.float32)
    return out


def read_any(path):
    if path.endswith(".safetensors"):
        return st_read(path)[0]
    return torch_read(path)


# ---- rules for the zoo's nets ---------------------------------------------------------

LEAF = r"(weight|bias|running_mean|running_var)"

# (PyTorch pattern, kdrun pattern); {s} stage, {b} block (kdrun, 1-based), {i} = b - 1
RULES = {
    "resnet": [
        (r"conv1\.(weight)", "conv0.{0}"),
        (r"bn1\.%s" % LEAF, "bn0.{0}"),
        (r"layer(\d+)\.(\d+)\.conv1\.(weight)", "block[{s},{b}].conv0.{0}"),
        (r"layer(\d+)\.(\d+)\.bn1\.%s" % LEAF, "block[{s},{b}].bn0.{0}"),
        (r"layer(\d+)\.(\d+)\.conv2\.(weight)", "block[{s},{b}].conv1.{0}"),
        (r"layer(\d+)\.(\d+)\.bn2\.%s" % LEAF, "block[{s},{b}].bn1.{0}"),
        (r"layer(\d+)\.(\d+)\.downsample\.0\.(weight)", "block[{s},{b}].conv2.{0}"),
        (r"layer(\d+)\.(\d+)\.downsample\.1\.%s" % LEAF, "block[{s},{b}].bn2.{0}"),
        (r"fc\.(weight|bias)", "linear0.{0}"),
    ],
    "wrn": [
        (r"conv1\.(weight)", "conv0.{0}"),
        (r"block(\d+)\.layer\.(\d+)\.bn1\.%s" % LEAF, "block[{s},{b}].bn0.{0}"),
        (r"block(\d+)\.layer\.(\d+)\.conv1\.(weight)", "block[{s},{b}].conv0.{0}"),
        (r"block(\d+)\.layer\.(\d+)\.bn2\.%s" % LEAF, "block[{s},{b}].bn1.{0}"),
        (r"block(\d+)\.layer\.(\d+)\.conv2\.(weight)", "block[{s},{b}].conv1.{0}"),
        (r"block(\d+)\.layer\.(\d+)\.convShortcut\.(weight)", "block[{s},{b}].conv2.{0}"),
        (r"bn1\.%s" % LEAF, "bn0.{0}"),
        (r"fc\.(weight|bias)", "linear0.{0}"),
    ],
}


def kd_pattern(kd):
    """the kdrun side of a rule as a regex: groups s, b, leaf"""
    p = re.escape(kd).replace(r"\{s\}", r"(?P<s>\d+)").replace(r"\{b\}", r"(?P<b>\d+)")
    return p.replace(r"\{0\}", r"(?P<leaf>weight|bias|running_mean|running_var)")


def torch_to_kdrun_name(arch, k):
    for tp, kd in RULES[arch]:
        m = re.fullmatch(tp, k)
        if not m:
            continue
        g = m.groups()
        if len(g) == 3:
            return kd.format(g[2], s=int(g[0]), b=int(g[1]) + 1)
        return kd.format(g[0])
    return None


def kdrun_to_torch_name(arch, k):
    for tp, kd in RULES[arch]:
        m = re.fullmatch(kd_pattern(kd), k)
        if not m:
            continue
        d = m.groupdict()
        src = tp.replace(LEAF, "(weight|bias|running_mean|running_var)")
        # rebuild the PyTorch name by filling the pattern's groups in order
        vals = [d["s"], str(int(d["b"]) - 1), d["leaf"]] if "s" in d and d["s"] else [d["leaf"]]
        out, vi = "", 0
        for part in re.split(r"(\([^)]*\))", src):
            if part.startswith("("):
                out += vals[vi]
                vi += 1
            else:
                out += part.replace("\\.", ".")
        return out
    return None


def guess_arch(names, to_kdrun):
    if to_kdrun:
        if any(re.fullmatch(r"layer1\.0\.conv1\.weight", k) for k in names):
            return "resnet"
        if any(re.fullmatch(r"block1\.layer\.0\.bn1\.weight", k) for k in names):
            return "wrn"
    else:
        if any(k.endswith("conv1.weight") and k.startswith("block[") for k in names):
            bn_first = [k for k in names if k.startswith("block[1,1].")]
            if bn_first and bn_first[0].startswith("block[1,1].bn0"):
                return "wrn"
            return "resnet"
    fail("cannot tell the architecture from the names: give --arch resnet|wrn, or --like REF")


def by_rules(arch, src, to_kdrun):
    out = collections.OrderedDict()
    for k, v in src.items():
        n = torch_to_kdrun_name(arch, k) if to_kdrun else kdrun_to_torch_name(arch, k)
        if n is None:
            fail("tensor %s has no counterpart in %s's names (wrong --arch?)" % (k, arch))
        if n in out:
            fail("two tensors map to %s" % n)
        out[n] = v
    return out


# ---- by order against a reference -----------------------------------------------------

def layers(names):
    """tensor names grouped by layer (the name without its last part), in first-seen order"""
    groups = collections.OrderedDict()
    for k in names:
        pre, _, leaf = k.rpartition(".")
        groups.setdefault(pre, []).append(leaf)
    return groups


def by_order(src, ref):
    a, b = layers(src.keys()), layers(ref.keys())
    if len(a) != len(b):
        fail("the input has %d layers and the reference %d" % (len(a), len(b)))
    out = collections.OrderedDict()
    for (pa, la), (pb, lb) in zip(a.items(), b.items()):
        if sorted(la) != sorted(lb):
            fail("layer %s (%s) and reference layer %s (%s) differ" % (pa, ",".join(la), pb, ",".join(lb)))
        for leaf in lb:
            s, r = src[pa + "." + leaf], ref[pb + "." + leaf]
            if tuple(s.shape) != tuple(r.shape):
                fail("%s.%s has shape %s, the reference's %s.%s %s" % (pa, leaf, list(s.shape), pb, leaf,
                                                                     list(r.shape)))
            out[pb + "." + leaf] = s
    return out


def check_against(out, ref):
    """strict: the same names and shapes as the reference"""
    for k in ref:
        if k not in out:
            fail("missing tensor %s" % k)
    for k, v in out.items():
        if k not in ref:
            fail("unexpected tensor %s" % k)
        if tuple(v.shape) != tuple(ref[k].shape):
            fail("tensor %s has shape %s, the reference's is %s" % (k, list(v.shape), list(ref[k].shape)))


def convert(args, to_kdrun):
    src = torch_read(args.input) if to_kdrun else st_read(args.input)[0]
    ref = read_any(args.like) if args.like else None
    if args.arch == "auto" and ref is None:
        args.arch = guess_arch(list(src.keys()), to_kdrun)
    if ref is not None and args.arch == "auto":
        out = by_order(src, ref)
    else:
        out = by_rules(args.arch, src, to_kdrun)
        if ref is not None:
            check_against(out, ref)
    if to_kdrun:
        # kdrun's order: parameters first, then batch-norm statistics
        ordered = collections.OrderedDict((k, v) for k, v in out.items() if "running_" not in k)
        ordered.update((k, v) for k, v in out.items() if "running_" in k)
        st_write(args.output, ordered, {"format": "kdrun-model 1",
                                        "converted_from": os.path.basename(args.input)})
    else:
        sd = collections.OrderedDict()
        for k, v in out.items():
            sd[k] = v.clone()
            if k.endswith(".running_var"):
                sd[k[:-len("running_var")] + "num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
        torch.save(sd, args.output)
    sys.stderr.write("kdrun_weights: %d tensors -> %s\n" % (len(out), args.output))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd")
    for cmd in ("to-kdrun", "to-torch"):
        p = sub.add_parser(cmd)
        p.add_argument("--arch", default="auto", choices=["auto"] + sorted(RULES))
        p.add_argument("--like", help="a file with the target side's names (order matching, or a check)")
        p.add_argument("input")
        p.add_argument("output")
    p = sub.add_parser("list")
    p.add_argument("file")
    args = ap.parse_args()
    if args.cmd == "to-kdrun":
        convert(args, True)
    elif args.cmd == "to-torch":
        convert(args, False)
    elif args.cmd == "list":
        for k, v in read_any(args.file).items():
            print("%-40s %s" % (k, list(v.shape)))
    else:
        ap.print_help()
        sys.exit(2)


if __name__ == "__main__":
    main()
