from ninja import Field, Query, Router, Schema

from catalog.forms import SORTS, CatalogueFilterForm
from catalog.models import Movie
from catalog.selectors import movie_search
from core.api import (
    MAX_PAGE,
    READ_ERRORS,
    ApiError,
    Id,
    PageMeta,
    Text,
    form_problems,
    paginate,
)

router = Router(tags=["movies"])


class MovieOut(Schema):
    id: int
    title: str
    year: int | None
    genres: list[str]
    imdb_url: str
    rating_count: int
    rating_mean: float | None


class MoviePage(PageMeta):
    items: list[MovieOut]


class MovieFilters(Schema):
    genre: Text(40) | None = Field(None, description="genre slug, e.g. sci-fi")
    year_min: int | None = Field(None, ge=1800, le=2100)
    year_max: int | None = Field(None, ge=1800, le=2100)
    sort: Text(20) = Field("popular", description="one of: " + ", ".join(SORTS))
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(20, ge=1, le=100)


def movie_out(movie: Movie) -> dict:
    mean = movie.rating_mean
    return {
        "id": movie.pk,
        "title": movie.title,
        "year": movie.year,
        "genres": [g.name for g in movie.genres.all()],
        "imdb_url": movie.imdb_url,
        "rating_count": movie.rating_count,
        "rating_mean": round(mean, 4) if mean is not None else None,
    }


def _page(movies, page: int, page_size: int) -> dict:
    items, meta = paginate(movies, page, page_size)
    return {**meta, "items": [movie_out(m) for m in items]}


@router.get("/movies", response={200: MoviePage, **READ_ERRORS}, auth=None)
def list_movies(request, filters: Query[MovieFilters]):
    """The catalogue, filtered by genre and year range, sorted, paginated."""
    form = CatalogueFilterForm(
        {
            k: v
            for k, v in filters.dict().items()
            if k not in ("page", "page_size") and v is not None
        }
    )
    if not form.is_valid():
        raise form_problems(form, where="query")
    wanted = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
    return _page(movie_search(**wanted), filters.page, filters.page_size)


@router.get("/movies/search", response={200: MoviePage, **READ_ERRORS}, auth=None)
def search_movies(
    request,
    q: Text(100, 1),
    page: int = Query(1, ge=1, le=MAX_PAGE),
    page_size: int = Query(20, ge=1, le=100),
):
    """Movies whose title contains ``q`` (any case), most rated first."""
    if not q.strip():
        raise ApiError.invalid("q", "Say what to search for.", where="query")
    return _page(movie_search(q=q), page, page_size)


@router.get("/movies/{movie_id}", response={200: MovieOut, **READ_ERRORS}, auth=None)
def get_movie(request, movie_id: Id):
    movie = Movie.objects.visible().prefetch_related("genres").filter(pk=movie_id).first()
    if movie is None:
        raise ApiError(404, "Not Found")
    return movie_out(movie)
