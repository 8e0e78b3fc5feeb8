import json
from pathlib import Path

import torch
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from gnn.ml import benchmark
from gnn.ml.network import Config
from gnn.reporting import metric_table_text


class Command(BaseCommand):
    help = (
        "The literature's protocol, independent of the database: train on the canonical "
        "uN.base, evaluate on uN.test of an ml-100k directory; plus cold start (20%% of "
        "users held out) and their first 5 ratings. Prints the metrics beside the floors."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--data",
            default=None,
            help="ml-100k directory in GroupLens layout (default: data/ml-100k)",
        )
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--fold", type=int, default=1, choices=range(1, 6), metavar="N")
        group.add_argument("--folds", type=int, choices=range(1, 6), metavar="K", help="folds 1..K")
        parser.add_argument("--no-cold", action="store_true", help="skip the cold-start protocols")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--epochs", type=int, help="maximum training steps")
        parser.add_argument(
            "--json", type=Path, dest="json_path", help="also write the results here as JSON"
        )

    def handle(self, *args, data=None, fold=1, folds=None, no_cold=False, seed=0, epochs=None,
               json_path=None, **options):  # fmt: skip
        directory = Path(data) if data else settings.DATA_DIR / "ml-100k"
        needed = ["u.data", "u.item", "u.user"]
        chosen = list(range(1, folds + 1)) if folds else [fold]
        needed += [f"u{i}.{part}" for i in chosen for part in ("base", "test")]
        missing = [name for name in needed if not (directory / name).is_file()]
        if missing:
            raise CommandError(
                f"{directory} lacks {', '.join(missing)}; run seed_movielens or pass --data"
            )
        torch.set_num_threads(settings.TORCH_THREADS_TRAINING)
        cfg = Config(seed=seed)
        if epochs:
            cfg.max_steps = epochs
        results = {"config": cfg.as_dict(), "folds": {}}
        for number in chosen:
            self.stdout.write(f"Fold {number}: training on u{number}.base...")
            result = benchmark.run_warm(directory, number, cfg)
            results["folds"][number] = result
            self.stdout.write(metric_table_text({"warm": result}))
            self.stdout.write(f"trained in {result['training_seconds']} s\n")
        if not no_cold:
            self.stdout.write("Cold start: 20% of users held out...")
            cold = benchmark.run_cold(directory, cfg)
            results["cold"] = cold
            self.stdout.write(metric_table_text({"cold": cold["c0"], "first_5": cold["c5"]}))
            self.stdout.write(f"trained in {cold['training_seconds']} s")
        if json_path:
            json_path.write_text(json.dumps(results, indent=2, sort_keys=True))
            self.stdout.write(f"Wrote {json_path}")
