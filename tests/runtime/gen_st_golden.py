#!/usr/bin/env python3
"""gen_st_golden.py -- a .safetensors file written with Python's struct+json.

test_safetensors.c reads tests/runtime/st_python.safetensors, written by this
script the way a minimal Python writer does it (no numpy, no safetensors
package): json.dumps with its default separators and ensure_ascii (so names
and metadata carry \\uXXXX escapes, one a surrogate pair), no padding of the
header (the data area starts unaligned), the data in another order than the
header's keys, a scalar and an empty tensor.

Regenerate (any Python 3):

    python3 tests/runtime/gen_st_golden.py tests/runtime/st_python.safetensors
"""
import json
import struct
import sys

tensors = [
    # name, shape, values (data is written in this order)
    ("bias", [3], [0.5, -1.25, 3.0]),
    ("conv.weight", [2, 1, 2, 2], [float(i) / 8 - 0.5 for i in range(8)]),
    ("scal\u00e4r \U0001F600", [], [6.25]),
    ("empty", [0, 4], []),
    ("tiny", [1], [1e-38]),
]

header = {"__metadata__": {"format": "pt", "note": "caf\u00e9 \"quoted\"\n\\"}}
data = b""
entries = {}
for name, shape, values in tensors:
    begin = len(data)
    data += struct.pack("<%df" % len(values), *values)
    entries[name] = {"dtype": "F32", "shape": shape, "data_offsets": [begin, len(data)]}
# header keys in reverse order of the data
for name, _, _ in reversed(tensors):
    header[name] = entries[name]

h = json.dumps(header).encode("utf-8")
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(h)))
    f.write(h)
    f.write(data)
