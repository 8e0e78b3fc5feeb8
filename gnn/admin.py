from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import path, reverse

from core.admin import GuardedActionsMixin
from gnn.bridge import registry
from gnn.models import ModelVersion, TrainingRun
from gnn.reporting import curve_charts, floor_names, metric_rows
from gnn.services import retraining_resume, retraining_status, run_is_stale, training_request
from gnn.versions import version_activate


def _figure(version: ModelVersion | None, protocol: str, metric: str) -> str:
    value = version.figure(protocol, metric) if version else None
    return f"{value:.3f}" if value is not None else "–"


class _MetricsMixin:
    """Figures of a version; ``_version`` gives the version of a row (a run's
    is the one it published)."""

    def _version(self, obj) -> ModelVersion | None:
        return obj

    @admin.display(description="RMSE")
    def warm_rmse(self, obj):
        return _figure(self._version(obj), "warm", "rmse")

    @admin.display(description="NDCG@10")
    def warm_ndcg(self, obj):
        return _figure(self._version(obj), "warm", "ndcg_at_10")

    @admin.display(description="new members NDCG@10")
    def cold_ndcg(self, obj):
        return _figure(self._version(obj), "cold", "ndcg_at_10")

    @admin.display(description="after 5 first ratings NDCG@10")
    def first5_ndcg(self, obj):
        return _figure(self._version(obj), "first_5", "ndcg_at_10")

    @admin.display(description="after 5 random ratings NDCG@10")
    def random5_ndcg(self, obj):
        return _figure(self._version(obj), "random_5", "ndcg_at_10")

    @admin.display(description="metrics beside the floors")
    def metrics_table(self, obj):
        version = self._version(obj)
        rows = metric_rows(version.metrics if version else {})
        if not rows:
            return "–"
        # The model page's table, so curators and members read the same figures.
        context = {"rows": rows, "floor_names": floor_names()}
        return render_to_string("gnn/_metrics_table.html", context)


@admin.register(TrainingRun)
class TrainingRunAdmin(_MetricsMixin, admin.ModelAdmin):
    change_list_template = "admin/gnn/trainingrun/change_list.html"
    list_display = (
        "pk",
        "trigger",
        "status_now",
        "created_at",
        "duration",
        "ratings_count",
        "version",
        "warm_rmse",
        "warm_ndcg",
        "cold_ndcg",
        "first5_ndcg",
        "random5_ndcg",
    )
    list_filter = ("status", "trigger")
    readonly_fields = (
        "trigger",
        "status",
        "created_at",
        "sent_at",
        "started_at",
        "heartbeat_at",
        "finished_at",
        "snapshot_at",
        "ratings_count",
        "users_count",
        "movies_count",
        "progress",
        "version",
        "error",
        "metrics_table",
        "training_curve",
    )

    class Media:
        css = {"all": ("css/charts.css",)}

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("model_version")

    def _version(self, run):
        return run.published

    @admin.display(description="version")
    def version(self, run):
        return run.published.version if run.published else ""

    @admin.display(description="training curve (validation, at each check)")
    def training_curve(self, obj):
        return render_to_string("gnn/_curve.html", {"curve": curve_charts(obj.curve)})

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="status", ordering="status")
    def status_now(self, run):
        if run.active and run_is_stale(run):
            return f"{run.get_status_display()} (silent: taken for dead at the next request)"
        return run.get_status_display()

    @admin.display(description="duration")
    def duration(self, run):
        seconds = run.duration_seconds
        return f"{seconds:.0f} s" if seconds is not None else "–"

    def changelist_view(self, request, extra_context=None):
        # Read only: stale runs are expired where runs are requested, not here.
        from gnn.models import AutoRetraining

        extra = {
            "retraining_status": retraining_status(),
            "retraining_paused": AutoRetraining.current().paused_at is not None,
        }
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def get_urls(self):
        retrain = self.admin_site.admin_view(self.retrain_now)
        resume = self.admin_site.admin_view(self.resume_retraining)
        return [
            path("retrain/", retrain, name="gnn_trainingrun_retrain"),
            path("resume/", resume, name="gnn_trainingrun_resume"),
            *super().get_urls(),
        ]

    def resume_retraining(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("gnn.add_trainingrun"):
            raise PermissionDenied("You may not change automatic retraining.")
        retraining_resume()
        messages.success(request, "Automatic retraining is on again.")
        return HttpResponseRedirect(reverse("admin:gnn_trainingrun_changelist"))

    def retrain_now(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("gnn.add_trainingrun"):
            raise PermissionDenied("You may not start training runs.")
        run = training_request(trigger=TrainingRun.Trigger.ADMIN)
        if run is None:
            messages.warning(
                request, "A training run is already queued or running; it was not started twice."
            )
        else:
            messages.success(
                request,
                f"Training run {run.pk} is queued. A worker trains it and the site switches "
                "to the new version when it is ready.",
            )
        return HttpResponseRedirect(reverse("admin:gnn_trainingrun_changelist"))


@admin.register(ModelVersion)
class ModelVersionAdmin(GuardedActionsMixin, _MetricsMixin, admin.ModelAdmin):
    list_display = (
        "version",
        "serving",
        "created_at",
        "ratings",
        "warm_rmse",
        "warm_ndcg",
        "cold_ndcg",
        "first5_ndcg",
        "random5_ndcg",
        "training_run",
    )
    readonly_fields = (
        "version", "created_at", "snapshot_at", "data", "training_run", "removed_at",
        "metrics_table",
    )  # fmt: skip
    exclude = ("metrics",)
    list_filter = (("removed_at", admin.EmptyFieldListFilter),)
    actions = ("activate",)
    action_permissions = {"activate": "gnn.activate_modelversion"}

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        # Rows are written where versions are published (and by bootstrap).
        self._served = registry.served_versions(settings.MODELS_DIR)
        return super().changelist_view(request, extra_context)

    @admin.display(description="serving", boolean=True)
    def serving(self, version):
        return version.version in getattr(self, "_served", ())

    @admin.display(description="ratings")
    def ratings(self, version):
        return version.data.get("ratings", "–")

    @admin.action(description="Activate (serve this version)")
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to serve.", messages.ERROR)
            return
        version = queryset.get().version
        try:
            version_activate(version=version, by=request.user.get_username())
        except registry.ModelVersionError as exc:
            self.message_user(request, f"Not activated: {exc}", messages.ERROR)
            return
        self.message_user(
            request,
            f"Version {version} is now serving; web processes switch within seconds.",
            messages.SUCCESS,
        )
