"""The model page: the served version's figures beside the floors, its curve,
and how members rate."""

from django.urls import reverse


def test_model_page_explains_when_no_model_is_trained(client, db):
    response = client.get(reverse("model"))
    assert "No model has been trained yet" in response.text


def test_model_page_shows_the_figures_beside_every_floor(client, trained):
    response = client.get(reverse("model"))
    assert response.status_code == 200
    for floor in ("Popularity", "User + item bias", "Popularity in demographic group", "EASE"):
        assert f'<th scope="col">{floor}</th>' in response.text
    assert "NDCG@10, new members after 5 random ratings" in response.text


def test_model_page_shows_how_members_rate_overall_and_by_genre(client, seeded):
    from ratings.models import Rating

    response = client.get(reverse("model"))
    distribution = response.context["site_distribution"]
    assert [v for v, _, _ in distribution] == [5, 4, 3, 2, 1]
    assert sum(n for _, n, _ in distribution) == Rating.objects.count()
    assert round(sum(share for _, _, share in distribution)) == 100
    assert 'data-testid="genre-means"' in response.text
    drama = next(g for g in response.context["site"]["genres"] if g["genre"] == "Drama")
    assert drama["count"] == Rating.objects.filter(movie__genres__name="Drama").count()


def test_model_page_draws_the_training_curve_of_the_served_version(client, trained):
    response = client.get(reverse("model"))
    curve = response.context["curve"]
    assert curve and curve["ndcg"]["rows"] and curve["rmse"]["rows"]
    assert 'data-testid="training-curve"' in response.text
    assert "Validation NDCG@10 at each check of training" in response.text
