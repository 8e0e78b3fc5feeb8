from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np

from ratings.models import Rating


def ratings_import_movielens(
    *,
    rows: np.ndarray,
    user_ids: dict[int, int],
    movie_ids: dict[int, int],
    progress: Callable[[int], None] | None = None,
    batch_size: int = 5000,
) -> int:
    """Insert MovieLens ratings (columns: user, movie, rating, unix time) not yet present.

    Ids are MovieLens ids, mapped to ours through ``user_ids``/``movie_ids``.
    A pair that already has a rating is left alone, so a member's later
    change to an imported rating survives a re-import.
    """
    existing = set(
        Rating.objects.filter(user__movielens_id__isnull=False).values_list("user_id", "movie_id")
    )
    batch, created = [], 0
    for user, movie, value, stamp in rows.tolist():
        key = (user_ids[user], movie_ids[movie])
        if key in existing:
            continue
        moment = datetime.fromtimestamp(stamp, tz=UTC)
        batch.append(
            Rating(
                user_id=key[0], movie_id=key[1], value=value, created_at=moment, updated_at=moment
            )
        )
        if len(batch) >= batch_size:
            Rating.objects.bulk_create(batch)
            created += len(batch)
            batch = []
            if progress:
                progress(created)
    if batch:
        Rating.objects.bulk_create(batch)
        created += len(batch)
        if progress:
            progress(created)
    return created
