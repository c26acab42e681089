#!/usr/bin/python3
"""Writes compressed copies of captures for alloc/fail-each-compressed:
compress_copies.py OUT_DIR CAPTURE:EXT... with EXT gz, xz (Python's
modules) or zst (the zstd command, scripts/install-deps.sh test)."""
import gzip
import lzma
import os
import subprocess
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for arg in sys.argv[2:]:
    path, ext = arg.rsplit(":", 1)
    with open(path, "rb") as f:
        data = f.read()
    if ext == "gz":
        blob = gzip.compress(data, mtime=0)
    elif ext == "xz":
        blob = lzma.compress(data, format=lzma.FORMAT_XZ)
    else:
        blob = subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True,
                              check=True).stdout
    with open(os.path.join(out, os.path.basename(path) + "." + ext), "wb") as f:
        f.write(blob)
