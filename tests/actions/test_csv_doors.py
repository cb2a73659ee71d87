"""CSV files through the doors: a refused import stores nothing, a batch-prediction file's header is trimmed."""

import pytest

from core.data.csv_import import CsvImportError
from core.runtime import Runtime

GOOD = "feature_1,feature_2,target\n1.5,2.3,1\n-0.2,0.1,0\n"


def test_a_rejected_import_stores_nothing(runtime: Runtime) -> None:
    with pytest.raises(CsvImportError):
        runtime.data.import_csv("feature_1,feature_2,target\n1,2,0\n1,oops,1\n")
    assert runtime.store.counts()["datasets"] == 0 and runtime.store.counts()["samples"] == 0
    info = runtime.data.import_csv(GOOD.encode(), name="mine.csv")
    assert info.n_rows == 2 and runtime.store.datasets()["source"].tolist() == ["imported"]


def test_batch_prediction_csv_with_a_trailing_space_header(trained_runtime: Runtime) -> None:
    frame = trained_runtime.serving.predict_csv(b"feature_1 ,feature_2 \n1.5,2.3\n")
    assert frame["prediction"].tolist() in ([0], [1]) and frame["model_version"].tolist() == ["v1.0.0"]


def test_a_shifted_file_stores_nothing_and_a_trimmed_header_stores_the_right_values(runtime: Runtime) -> None:
    with pytest.raises(CsvImportError, match="row 2 has 4 fields"):
        runtime.data.import_csv(b"feature_1,feature_2,target\n1,2,0,1\n3,4,1,0\n")
    with pytest.raises(CsvImportError, match="beyond the limit"):
        runtime.data.import_csv(b"feature_1,feature_2,target\n1e308,2,0\n")
    assert runtime.store.counts()["samples"] == 0
    runtime.data.import_csv(b"feature_1 ,feature_2,target\n1,2,0\n3,4,1\n")
    stored = runtime.store.dataset_frame(1)
    assert stored.to_numpy().tolist() == [[1, 2, 0], [3, 4, 1]]
