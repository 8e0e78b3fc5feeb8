from django.conf import settings
from django.core.management.base import BaseCommand

from gnn.bridge import registry


def _figure(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "-"


class Command(BaseCommand):
    help = "List the published model versions with their metrics; * marks the one serving."

    def handle(self, *args, **options):
        versions = registry.list_versions(settings.MODELS_DIR)
        if not versions:
            self.stdout.write("No model version has been published yet. Run train_model.")
            return
        header = (
            f"  {'version':<24} {'ratings':>8} {'RMSE':>6} {'NDCG@10':>8} {'cold':>6} {'5 rat.':>6}"
        )
        self.stdout.write(header)
        for info in versions:
            mark = "*" if info.is_current else " "
            if info.error:
                self.stdout.write(f"{mark} {info.version:<24} unreadable: {info.error}")
                continue
            meta = info.metadata
            figures = (
                f"{_figure(meta.figure('warm', 'rmse')):>6} "
                f"{_figure(meta.figure('warm', 'ndcg_at_10')):>8} "
                f"{_figure(meta.figure('cold', 'ndcg_at_10')):>6} "
                f"{_figure(meta.figure('first_5', 'ndcg_at_10')):>6}"
            )
            self.stdout.write(f"{mark} {info.version:<24} {meta.data.ratings:>8} {figures}")
