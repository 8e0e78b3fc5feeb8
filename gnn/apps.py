from django.apps import AppConfig


class GnnConfig(AppConfig):
    name = "gnn"
    verbose_name = "Recommender model"
