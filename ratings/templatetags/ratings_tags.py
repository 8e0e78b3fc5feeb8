from django import template

register = template.Library()


@register.filter
def rating_of(my_ratings, movie_id):
    """The member's rating of ``movie_id`` from the page's ``my_ratings`` dict
    (movie pk -> 1..5), or None: the star widget never reads it off the movie."""
    return my_ratings.get(movie_id) if isinstance(my_ratings, dict) else None


@register.filter
def among(movie_id, ids):
    """Whether ``movie_id`` is in the page's set of ids (the watchlist's)."""
    return movie_id in ids if isinstance(ids, set | frozenset) else False
