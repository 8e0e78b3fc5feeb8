"""What ratings tells the apps above it, without importing them.

``rating_committed`` is sent after a rating write has committed. gnn listens
(its AppConfig connects the receiver) to count the write toward retraining;
ratings itself never imports gnn, so imports run one way.
"""

from django.dispatch import Signal

rating_committed = Signal()
