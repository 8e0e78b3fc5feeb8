"""One default training on a MovieLens 100K-layout split, timed: what the
"training time against the commit before" figure runs, in each checkout.

    python benchmarks/train_movielens.py --data data/ml-100k [--base u1.base]

Run it with PYTHONPATH at each checkout, alternating (a process timer such as
``/usr/bin/time -v`` around each), and compare the wall times pair by pair.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gnn.ml import benchmark
from gnn.ml.network import Config
from gnn.ml.training import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--base", default="u1.base")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    users, movies, user_index, movie_index = benchmark.load_grouplens(args.data)
    rows = benchmark._read_ratings(args.data / args.base)
    dataset = benchmark.Dataset(users, movies, benchmark._ratings(rows, user_index, movie_index))
    started = time.perf_counter()
    trained = train(dataset, Config(seed=args.seed))
    print(
        f"trained in {time.perf_counter() - started:.1f} s, best step {trained.best_step}, "
        f"validation NDCG@10 {max(h['ndcg_at_10'] for h in trained.history):.4f}"
    )


if __name__ == "__main__":
    main()
