"""DuckDB storage: the schema, its migrations, and every SQL statement of the project.

One module per aggregate (datasets and samples, models, predictions, cycles and
drift, alerts, health); `Store` combines them over the one connection in `base`.
"""

from __future__ import annotations

from core.domain.outcomes import METRICS
from core.store.alerts import AlertQueries
from core.store.base import connect, utcnow
from core.store.cycles import CycleQueries, TestedBatch
from core.store.datasets import DatasetInfo, DatasetQueries, Window
from core.store.feedback import ArrivedLabels, FeedbackQueries, FeedbackResult
from core.store.health import HealthQueries
from core.store.models import ModelQueries, dumps_ids
from core.store.predictions import PredictionQueries
from core.store.retention import RetentionQueries

__all__ = ["METRICS", "ArrivedLabels", "DatasetInfo", "FeedbackResult", "Store", "TestedBatch", "Window", "connect", "dumps_ids", "utcnow"]


class Store(DatasetQueries, FeedbackQueries, ModelQueries, PredictionQueries, CycleQueries, AlertQueries, HealthQueries, RetentionQueries):
    """The process's one DuckDB connection, one cursor per thread, and every query."""
