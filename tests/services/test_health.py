import pytest

from core.runtime import Runtime
from tests.discord_server import FakeDiscord
from tests.fixtures import make_settings


def test_health_checks_ask_the_real_components(trained_runtime: Runtime) -> None:
    rt = trained_runtime
    report = rt.health.check()
    assert report.checks["duckdb"].ok and report.checks["mlflow"].ok and report.checks["champion"].ok
    assert "v1.0.0 loaded" in report.checks["champion"].detail
    assert report.checks["worker"].ok and "not started (IA_SCHEDULER_AUTOSTART=false)" in report.checks["worker"].detail  # as in tests
    assert not report.checks["webhook"].ok and report.healthy  # a webhook is not required
    assert report.uptime_seconds > 0


def test_a_running_worker_makes_the_workspace_healthy_and_records_latency(tmp_path, mlflow_template) -> None:
    with FakeDiscord() as discord:
        settings = make_settings(
            tmp_path / "w", mlflow_template, starter_model=True, scheduler_autostart=True, discord_webhook_url=discord.url
        )
        rt = Runtime(settings)
        try:
            for i in range(20):
                rt.serving.predict([i / 10, 1.0])
            rt.predictor.flush()
            report = rt.health.record()
            assert report.healthy and report.checks["webhook"].ok and "s3cr3t" not in report.checks["webhook"].detail
            latencies = rt.store.recent_predictions(100)["latency_ms"]
            assert report.latency_p50_ms == pytest.approx(latencies.median())
            assert report.latency_p95_ms >= report.latency_p50_ms
            history = rt.store.health_history()
            assert len(history) >= 1 and bool(history["healthy"].iloc[0]) and bool(history["webhook_configured"].iloc[0])
        finally:
            rt.close()


def test_an_empty_workspace_reports_no_champion(runtime: Runtime) -> None:
    check = runtime.health.check().checks["champion"]
    assert not check.ok and "no champion" in check.detail
