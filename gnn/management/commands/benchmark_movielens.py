import json
from pathlib import Path

import torch
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from gnn.ml import benchmark
from gnn.ml.network import Config
from gnn.reporting import metric_table_text, onboarding_text, paired_text


class Command(BaseCommand):
    help = (
        "The literature's protocol, independent of the database: train on the canonical "
        "uN.base, evaluate on uN.test of an ml-100k directory; plus new members on K random "
        "20%% user holdouts (profile only, 5 earliest ratings, 5 random ratings). Prints every "
        "figure beside the floors (popularity, bias, group popularity, EASE), with its spread."
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
        parser.add_argument("--no-cold", action="store_true", help="skip the new-member protocols")
        parser.add_argument(
            "--holdouts",
            type=int,
            default=5,
            metavar="K",
            help="user holdouts for the new-member protocols (holdout seeds 0..K-1; default 5)",
        )
        parser.add_argument(
            "--training-seeds",
            type=int,
            default=1,
            metavar="S",
            help="train the uN.base model S times (seeds --seed .. --seed+S-1): mean and sd",
        )
        parser.add_argument(
            "--onboarding",
            action="store_true",
            help="only the onboarding measure: which movies to ask a newcomer (today's popular "
            "panel, the chooser, 5 random ratings) on the cold-start holdouts",
        )
        parser.add_argument(
            "--validation",
            action="store_true",
            help="with --onboarding: the chooser's candidate settings on holdouts after the "
            "reported ones (seeds 10..), for choosing them",
        )
        parser.add_argument("--seed", type=int, default=0, help="the (first) training seed")
        parser.add_argument("--epochs", type=int, help="maximum training steps")
        parser.add_argument(
            "--json", type=Path, dest="json_path", help="also write the results here as JSON"
        )

    def handle(self, *args, data=None, fold=1, folds=None, no_cold=False, holdouts=5,
               training_seeds=1, seed=0, epochs=None, json_path=None, onboarding=False,
               validation=False, **options):  # fmt: skip
        if holdouts < 1 or training_seeds < 1:
            raise CommandError("--holdouts and --training-seeds must be at least 1")
        directory = Path(data) if data else settings.DATA_DIR / "ml-100k"
        if validation and not onboarding:
            raise CommandError("--validation goes with --onboarding")
        needed = ["u.data", "u.item", "u.user"]
        chosen = [] if onboarding else (list(range(1, folds + 1)) if folds else [fold])
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
        if onboarding:
            results["onboarding"] = self._onboarding(directory, cfg, holdouts, validation)
            no_cold = True
        for number in chosen:
            self.stdout.write(f"Fold {number}: training on u{number}.base...")
            result = benchmark.run_warm(directory, number, cfg, training_seeds)
            results["folds"][number] = result
            self.stdout.write(metric_table_text({"warm": result}))
            self.stdout.write(paired_text({"warm": result}))
            self.stdout.write(f"trained in {result['training_seconds']} s (mean)\n")
        if len(chosen) > 1:
            results["folds_mean"] = benchmark.summarise(
                [results["folds"][n] for n in chosen], "folds"
            )
            results["folds_mean"].pop("folds")
            self.stdout.write(f"Mean over folds 1..{len(chosen)}:")
            self.stdout.write(metric_table_text({"warm": results["folds_mean"]}))
        if not no_cold:
            self.stdout.write(f"New members: {holdouts} holdouts of 20% of users...")
            cold = benchmark.run_cold(directory, cfg, holdouts)
            results["cold"] = cold
            named = {name: cold[key] for name, key in benchmark.COLD_KEYS.items()}
            self.stdout.write(metric_table_text(named))
            self.stdout.write(paired_text(named))
            self.stdout.write(f"trained in {cold['training_seconds']} s (mean per holdout)")
        if json_path:
            if not results["folds"]:
                results.pop("folds")
            json_path.write_text(json.dumps(results, indent=2, sort_keys=True))
            self.stdout.write(f"Wrote {json_path}")

    def _onboarding(self, directory, cfg, holdouts: int, validation: bool) -> dict:
        first = benchmark.VALIDATION_HOLDOUT if validation else 0
        variants = benchmark.ONBOARDING_VARIANTS if validation else None
        self.stdout.write(
            f"Onboarding: holdouts {first}..{first + holdouts - 1} of 20% of users, each "
            "member's ratings split once into a revealable and a test half..."
        )
        result = benchmark.run_onboarding(directory, cfg, holdouts, first, variants)
        self.stdout.write(onboarding_text(result))
        return result
