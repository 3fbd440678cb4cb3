"""Write the committed data set: three interleaved spiral arms in the plane, and its data manifest.

Run once by hand (python make_data.py); train.py only reads the committed CSV, so a rerun never depends on this
script's numpy version. Coordinates are rounded to 6 decimals so the CSV's bytes are the same wherever it is written.
"""
import hashlib
import json
from pathlib import Path

import numpy as np

SEED = 20261128
POINTS_PER_CLASS = 200
CLASSES = 3
NOISE = 0.15
CSV = Path("data/spirals.csv")
MANIFEST = Path("data/spirals.manifest.json")


def spirals(rng):
    rows = []
    for label in range(CLASSES):
        radius = np.linspace(0.05, 1.0, POINTS_PER_CLASS)
        angle = np.linspace(label * 2 * np.pi / CLASSES, label * 2 * np.pi / CLASSES + 3.5, POINTS_PER_CLASS)
        angle = angle + rng.normal(scale=NOISE, size=POINTS_PER_CLASS)
        rows += [(x, y, label) for x, y in zip(radius * np.sin(angle), radius * np.cos(angle))]
    order = rng.permutation(len(rows))
    return [rows[i] for i in order]


def main():
    header = "x1,x2,label\n"
    body = "".join(f"{x:.6f},{y:.6f},{label}\n" for x, y, label in spirals(np.random.default_rng(SEED)))
    CSV.parent.mkdir(parents=True, exist_ok=True)
    CSV.write_text(header + body)
    manifest = {
        "dataset_name": "spirals",
        "storage_uri": "examples/torch-mlp/make_data.py",
        "record_count": POINTS_PER_CLASS * CLASSES,
        "schema_hash": "sha256:" + hashlib.sha256(header.encode()).hexdigest(),
        "content_hash": "sha256:" + hashlib.sha256((header + body).encode()).hexdigest(),
        "created_at": "2026-11-28T00:00:00Z",
    }
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {CSV} ({manifest['record_count']} rows) and {MANIFEST}")


if __name__ == "__main__":
    main()
