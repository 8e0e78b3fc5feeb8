"""The API as a whole: errors, model info, health, docs, CORS."""

JSON = "application/json"


def test_malformed_json_is_a_400_with_a_json_body(client, db):
    response = client.post("/api/users", "{not json", content_type=JSON)
    assert response.status_code == 400
    assert response.json() == {"detail": "Cannot parse request body"}


def test_model_info_and_health(client, trained):
    info = client.get("/api/model/info").json()
    assert info["serving"] and info["version"] == trained
    assert "ndcg_at_10" in info["metrics"]["warm"]["model"]
    # The floors beside the model, EASE among them, with the beyond-accuracy figures.
    assert {"popularity", "bias", "ease"} <= set(info["metrics"]["warm"])
    assert "coverage_at_10" in info["metrics"]["random_5"]["ease"]
    health = client.get("/api/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "model_version": trained} or health.json() == {
        "status": "degraded", "model_version": trained
    }  # fmt: skip


def test_anonymous_callers_get_a_bare_status_staff_and_monitors_the_parts(
    client, trained, staff, settings
):
    """Finding 10: the database vendor, the cache kind and the hyperparameters
    were public."""
    anonymous = client.get("/api/health").json()
    assert set(anonymous) == {"status", "model_version"}
    assert client.get("/api/model/info").json()["hyperparameters"] == {}
    client.force_login(staff)
    detail = client.get("/api/health").json()
    assert detail["database"] == {"ok": True, "detail": "sqlite"} or detail["database"]["ok"]
    assert {"model", "broker", "cache"} <= set(detail)
    assert client.get("/api/model/info").json()["hyperparameters"]["dim"] == 64
    client.logout()
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    assert "cache" in client.get("/api/health").json()


def test_model_info_without_a_model(client, db):
    assert client.get("/api/model/info").json() == {
        "serving": False, "version": None, "created_at": None, "trigger": None, "data": {},
        "metrics": {}, "hyperparameters": {}, "training_seconds": None, "fallback": "popularity",
    }  # fmt: skip


def test_health_is_503_when_the_database_is_unreachable(client, db, monkeypatch):
    class Unreachable:
        vendor = "postgresql"

        def cursor(self):
            raise RuntimeError('could not connect to "db.internal", user "reel_admin"')

    monkeypatch.setattr("recommender.api.connection", Unreachable())
    response = client.get("/api/health")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    # Hosts and database users stay in the log, out of the public answer.
    assert "db.internal" not in response.text and "reel_admin" not in response.text


def test_docs_and_openapi_are_served(client, db):
    assert client.get("/api/openapi.json").json()["info"]["title"] == "Reel API"
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "cdn" not in docs.text.lower()


def test_cors_is_off_by_default_and_configurable(client, db, settings):
    origin = {"HTTP_ORIGIN": "https://partner.example"}
    assert "access-control-allow-origin" not in client.get("/api/health", **origin).headers
    settings.CORS_ALLOWED_ORIGINS = ["https://partner.example"]
    allowed = client.get("/api/health", **origin)
    assert allowed.headers["access-control-allow-origin"] == "https://partner.example"
