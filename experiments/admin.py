from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from experiments.models import POPULARITY, Experiment
from experiments.selectors import interleaving_results, results
from experiments.services import (
    experiment_check,
    experiment_promote,
    experiment_save,
    experiment_stop,
)
from gnn.models import ModelVersion


def _version_choices(with_popularity: bool):
    versions = ModelVersion.objects.filter(removed_at=None).values_list("version", flat=True)
    choices = [(v, v) for v in versions]
    if with_popularity:
        choices.append((POPULARITY, "Popularity (the most liked movies; a sanity arm)"))
    return choices


class ExperimentForm(forms.ModelForm):
    class Meta:
        model = Experiment
        fields = ("name", "surface", "method", "version_a", "version_b", "share", "mde",
                  "starts_at", "ends_at")  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version_a"] = forms.ChoiceField(
            label="Arm A (control)", choices=lambda: _version_choices(False)
        )
        self.fields["version_b"] = forms.ChoiceField(
            label="Arm B (treatment)", choices=lambda: _version_choices(True)
        )

    def _post_clean(self):
        # After the instance is filled from the form: check it as a whole
        # (versions servable, one experiment per surface at a time).
        super()._post_clean()
        if not self.errors:
            try:
                experiment_check(self.instance)
            except ValidationError as exc:
                self._update_errors(exc)


CHART_WIDTH = 420


def _interval_charts(found) -> list[dict]:
    """Each figure's arms as a dot (the estimate) on a line (the 95%
    interval), on one scale from 0 to the largest upper bound."""
    names = [
        ("Pages opened per impression", "click_through"),
        ("Ratings of recommended movies per member", "ratings_per_member"),
        ("“Not interested” per impression", "dismiss_rate"),
    ]
    charts = []
    for title, attribute in names:
        figures = [(arm.arm.upper(), getattr(arm, attribute)) for arm in found.arms]
        top = max((f.high for _, f in figures if f), default=0)
        if top <= 0:
            continue
        scale = (CHART_WIDTH - 60) / top
        rows = [
            {
                "arm": label,
                "y": 20 + 24 * i,
                "low": 40 + f.low * scale,
                "high": 40 + f.high * scale,
                "at": 40 + f.estimate * scale,
            }
            for i, (label, f) in enumerate(figures)
            if f
        ]
        charts.append({"title": title, "rows": rows, "height": 30 + 24 * len(rows)})
    return charts


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    form = ExperimentForm
    list_display = ("name", "surface", "version_a", "version_b", "share", "status_label",
                    "starts_at", "ends_at", "promoted")  # fmt: skip
    readonly_fields = ("results_table", "stopped_at", "promoted")
    actions = ("stop", "promote_a", "promote_b")

    @admin.display(description="status")
    def status_label(self, experiment):
        return experiment.status

    @admin.display(description="results")
    def results_table(self, experiment):
        if not experiment.pk:
            return "Results appear once members have seen the arms."
        if experiment.method == "interleave":
            return mark_safe(
                render_to_string(
                    "experiments/interleaving.html",
                    {"experiment": experiment, "r": interleaving_results(experiment)},
                )
            )
        found = results(experiment)
        # A template: every value in it is autoescaped.
        return mark_safe(
            render_to_string(
                "experiments/results.html",
                {"experiment": experiment, "r": found, "charts": _interval_charts(found)},
            )
        )

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        experiment_save(experiment=obj)

    @admin.action(description="Stop the selected experiments")
    def stop(self, request, queryset):
        for experiment in queryset:
            experiment_stop(experiment=experiment)
        self.message_user(request, f"{queryset.count()} experiment(s) stopped.")

    def _promote(self, request, queryset, arm: str):
        allowed = request.user.has_perm("experiments.promote_experiment") and request.user.has_perm(
            "gnn.activate_modelversion"
        )
        if not allowed:
            self.message_user(
                request,
                "Promoting needs “Can promote an experiment's winning version” and “Can choose "
                "the version that is served”.",
                messages.ERROR,
            )
            return
        if queryset.count() != 1:
            self.message_user(request, "Promote one experiment at a time.", messages.ERROR)
            return
        experiment = queryset.get()
        try:
            version = experiment_promote(
                experiment=experiment, arm=arm, by=request.user.get_username()
            )
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return
        self.message_user(request, f"Version {version} now serves everyone; {experiment} ended.")

    @admin.action(description="Promote arm A of the selected experiment (serve it to everyone)")
    def promote_a(self, request, queryset):
        self._promote(request, queryset, "a")

    @admin.action(description="Promote arm B of the selected experiment (serve it to everyone)")
    def promote_b(self, request, queryset):
        self._promote(request, queryset, "b")
