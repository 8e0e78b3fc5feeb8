from django import template

register = template.Library()


@register.filter
def rating_of(my_ratings, movie_id):
    """The member's rating of ``movie_id`` from the page's ``my_ratings`` dict
    (movie pk -> 1..5), or None: the star widget never reads it off the movie."""
    return my_ratings.get(movie_id) if isinstance(my_ratings, dict) else None
