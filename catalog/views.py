from django.core.paginator import Paginator
from django.shortcuts import render

from catalog.selectors import movie_list


def home(request):
    page = Paginator(movie_list(), 30).get_page(request.GET.get("page"))
    return render(request, "catalog/home.html", {"page": page})
