from django.apps import AppConfig


class GnnConfig(AppConfig):
    name = "gnn"
    verbose_name = "Recommender model"

    def ready(self):
        # ratings announces committed writes; gnn counts them toward retraining.
        from gnn.receivers import connect

        connect()
