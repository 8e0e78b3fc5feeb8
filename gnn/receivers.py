"""gnn's answers to the signals of the apps below it."""

import logging

from ratings.models import Rating
from ratings.signals import rating_committed

log = logging.getLogger("gnn.training")


def count_toward_retraining(**_kwargs) -> None:
    from gnn.services import retrain_count_rating

    try:
        retrain_count_rating()
    except Exception:
        log.exception("could not check whether to retrain")


def count_toward_refresh(**_kwargs) -> None:
    from gnn.services import refresh_count_rating

    try:
        refresh_count_rating()
    except Exception:
        log.exception("could not ask for a refresh of the serving arrays")


def connect() -> None:
    rating_committed.connect(
        count_toward_refresh, sender=Rating, dispatch_uid="gnn.count_toward_refresh"
    )
    rating_committed.connect(
        count_toward_retraining, sender=Rating, dispatch_uid="gnn.count_toward_retraining"
    )
