import math

import numpy as np
import pytest

from gnn.ml import evaluation as ev


def test_rmse_clips_predictions_to_the_rating_scale():
    # Clipped to [1, 3, 5]; errors 0, 1, 0.
    assert ev.rmse(np.array([0.5, 3.0, 6.0]), np.array([1, 4, 5])) == pytest.approx(
        math.sqrt(1 / 3)
    )


def test_rmse_refuses_mismatched_arrays():
    with pytest.raises(ValueError):
        ev.rmse(np.array([1.0]), np.array([1.0, 2.0]))


def test_top_k_skips_excluded_items_and_breaks_ties_by_index():
    scores = np.array([[0.9, 0.8, 0.7, 0.7, 0.5]])
    assert ev.top_k(scores, [np.array([1])], k=3).tolist() == [[0, 2, 3]]
    assert ev.top_k(scores, [np.array([0, 2])], k=2).tolist() == [[1, 3]]


def test_top_k_of_scores_made_a_block_at_a_time_equals_the_whole_matrix(monkeypatch):
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 4, size=(23, 9)).astype(np.float64)  # many ties
    exclude = [rng.choice(9, size=rng.integers(0, 5), replace=False) for _ in range(23)]
    whole = ev.top_k(scores, exclude, k=4)
    made = []

    def rows(start, stop):
        made.append(stop - start)
        return scores[start:stop]

    monkeypatch.setattr(ev, "ROWS_PER_BLOCK", 5)
    assert ev.top_k(rows, exclude, k=4).tolist() == whole.tolist()
    assert made == [5, 5, 5, 5, 3]  # never more than a block of rows at once
    assert ev.top_k(scores, exclude, k=4).tolist() == whole.tolist()
    for row, items in enumerate(exclude):
        assert not set(whole[row]) & set(items)


def test_ranking_metrics_on_a_hand_computed_case():
    # Ranked [0, 2, 3]; relevant {2, 4}: one hit, at rank 2.
    metrics = ev.ranking_metrics(np.array([[0, 2, 3]]), [np.array([2, 4])], k=3)

    assert metrics.precision == pytest.approx(1 / 3)
    assert metrics.recall == pytest.approx(1 / 2)
    dcg = 1 / math.log2(3)
    ideal = 1 + 1 / math.log2(3)
    assert metrics.ndcg == pytest.approx(dcg / ideal)
    assert metrics.users == 1


def test_ranking_metrics_average_over_users_with_relevant_items_only():
    ranked = np.array([[0, 1], [1, 0], [0, 1]])
    relevant = [np.array([0]), np.array([0]), np.array([], dtype=int)]

    metrics = ev.ranking_metrics(ranked, relevant, k=2)

    # User 0: hit at rank 1 (NDCG 1); user 1: hit at rank 2 (NDCG 1/log2(3)); user 2 skipped.
    assert metrics.users == 2
    assert metrics.precision == pytest.approx(0.5)
    assert metrics.recall == pytest.approx(1.0)
    assert metrics.ndcg == pytest.approx((1 + 1 / math.log2(3)) / 2)


def test_ideal_dcg_uses_at_most_k_relevant_items():
    # Four relevant items but k=2: a perfect top-2 scores NDCG 1, recall 2/4.
    metrics = ev.ranking_metrics(np.array([[5, 6]]), [np.array([5, 6, 7, 8])], k=2)
    assert metrics.ndcg == pytest.approx(1.0)
    assert metrics.recall == pytest.approx(0.5)


def test_relevant_items_are_the_ratings_of_four_or_five():
    users = np.array([0, 0, 1, 1, 1])
    items = np.array([3, 4, 3, 5, 6])
    values = np.array([4, 3, 5, 1, 4])
    assert [r.tolist() for r in ev.relevant_items(users, items, values, 3)] == [[3], [3, 6], []]


def test_popularity_counts_ratings_of_four_or_five():
    items = np.array([0, 0, 1, 2, 2, 2])
    values = np.array([5, 4, 5, 3, 2, 4])
    assert ev.popularity_scores(items, values, 4).tolist() == [2, 1, 1, 0]


def test_bias_model_recovers_biases_without_regularisation():
    # mean 3; user 1 rates one higher; item 1 is rated one higher.
    users = np.array([0, 0, 1, 1])
    items = np.array([0, 1, 0, 1])
    values = np.array([2.0, 3.0, 3.0, 4.0])
    model = ev.BiasModel.fit(users, items, values, 2, 2, reg_user=0, reg_item=0, iterations=50)
    assert model.predict(users, items) == pytest.approx(values, abs=1e-6)
    assert model.item_bias[1] - model.item_bias[0] == pytest.approx(1.0, abs=1e-6)


def test_new_user_bias_is_shrunk_towards_zero():
    model = ev.BiasModel(mean=3.0, user_bias=np.zeros(1), item_bias=np.array([0.0, 0.0]))
    # Two ratings one above the mean; shrinkage 2 gives 2 / (2 + 2) = 0.5.
    assert model.user_bias_from(np.array([0, 1]), np.array([4.0, 4.0]), reg_user=2) == 0.5
    assert model.user_bias_from(np.array([], dtype=int), np.array([])) == 0.0


def test_group_popularity_prefers_what_the_group_likes():
    # Group 0 likes item 0, group 1 likes item 1, in equal numbers overall.
    users = np.array([0, 0, 1, 1])
    items = np.array([0, 0, 1, 1])
    values = np.array([5, 5, 5, 5])
    groups = np.array([0, 1])
    scores = ev.group_popularity_scores(users, items, values, groups, 2, smoothing=0.1)
    assert scores[0, 0] > scores[0, 1]
    assert scores[1, 1] > scores[1, 0]


def test_demographic_groups_split_by_gender_and_age_bracket():
    groups = ev.demographic_groups(np.array([17, 20, 20, 60]), ["M", "M", "F", "F"])
    assert groups[0] != groups[1] != groups[2]
    assert groups[2] // 6 == groups[3] // 6 == 1


# --- Beyond accuracy, against hand-computed lists ----------------------------------


def test_coverage_is_the_share_of_the_catalogue_in_any_list():
    assert ev.coverage(np.array([[0, 1], [1, 2]]), n_items=4) == pytest.approx(3 / 4)
    assert ev.coverage(np.array([[0, 1], [0, 1]]), n_items=4) == pytest.approx(2 / 4)


def test_popularity_rank_is_1_for_the_most_rated_with_ties_by_index():
    counts = np.array([5, 9, 1, 9])
    assert ev.popularity_ranks(counts).tolist() == [3, 1, 4, 2]
    # Slots: item 0 (rank 3), 1 (1), 1 (1), 2 (4).
    assert ev.mean_popularity_rank(np.array([[0, 1], [1, 2]]), counts) == pytest.approx(9 / 4)


def test_personalisation_is_one_minus_the_mean_jaccard_of_two_lists():
    # One distinct pair: {0, 1} and {1, 2} share 1 of 3 items.
    assert ev.personalisation(np.array([[0, 1], [1, 2]])) == pytest.approx(2 / 3)
    assert ev.personalisation(np.array([[0, 1], [1, 0], [0, 1]])) == pytest.approx(0.0)
    disjoint = np.array([[0, 1], [2, 3], [4, 5]])
    assert ev.personalisation(disjoint) == pytest.approx(1.0)


def test_personalisation_is_the_same_on_two_runs():
    lists = np.random.default_rng(3).integers(0, 50, size=(40, 10))
    assert ev.personalisation(lists) == ev.personalisation(lists)
