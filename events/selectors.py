from events.models import Impression, Outcome


def member_events(*, user) -> dict[str, list[dict]]:
    """A member's events as their data download gives them, oldest first."""
    return {
        "impressions": [
            {
                "list_id": str(i.id),
                "surface": i.surface,
                "version": i.version,
                "arm": i.arm,
                "movie_ids": i.movie_ids,
                "shown_at": i.created_at.isoformat(),
            }
            for i in Impression.objects.filter(user=user).order_by("created_at")
        ],
        "outcomes": [
            {
                "movie_id": o.movie_id,
                "kind": o.kind,
                "value": o.value,
                "list_id": str(o.list_id) if o.list_id else None,
                "position": o.position,
                "at": o.created_at.isoformat(),
            }
            for o in Outcome.objects.filter(user=user).order_by("created_at")
        ],
    }
