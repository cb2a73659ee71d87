"""A user's table: schema inference and its overrides, the file reader's refusals, checking tables and rows by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.data.synthetic_table import generate_table
from core.data.table_check import encode, infer_schema, named_rows
from core.domain.schema import Column, Schema
from core.errors import UserInputError
from core.io.table_files import read_table

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _csv(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_inference_rule_as_the_readme_states_it(tmp_path: Path) -> None:
    rows = ["id,price,rooms,city,member,note,day,label"]
    for i in range(300):
        rows.append(f"c{i},{100 + i * 1.5},{i % 4},{['paris', 'lyon', 'nice'][i % 3]},{'true' if i % 2 else 'false'},,"
                    f"2024-01-{1 + i % 28:02d},{'yes' if i % 3 else 'no'}")  # fmt: skip
    frame = read_table(_csv(tmp_path, "\n".join(rows) + "\n"))
    schema = infer_schema(frame.drop(columns=["note"]), "label")
    kinds = {c.name: c.kind for c in schema.columns}
    assert kinds == {"id": "ignored", "price": "numeric", "rooms": "categorical", "city": "categorical", "member": "categorical",
                     "day": "ignored"}  # fmt: skip
    assert schema.classes == ("no", "yes")  # as written, not true/false
    assert schema.column("member").categories == ("false", "true") or set(schema.column("member").categories) == {"true", "false"}
    assert schema.column("rooms").categories and set(schema.column("rooms").categories) == {"0", "1", "2", "3"}
    overridden = infer_schema(frame.drop(columns=["note"]), "label", {"rooms": "numeric", "city": "ignored"}, time_column="day")
    assert overridden.column("rooms").kind == "numeric" and overridden.column("city").kind == "ignored"
    assert overridden.time_column == "day" and "day" not in overridden.names
    # a time or identifier column is not called "ignored by choice": it says what it is for
    assert (overridden.column("day").note, overridden.column("city").note) == ("the time column: not an input", "ignored by choice")
    assert infer_schema(frame.drop(columns=["note"]), "label", id_column="id").column("id").note == "the identifier column: not an input"


def test_a_column_of_one_value_is_kept_and_said_to_teach_nothing(tmp_path: Path) -> None:
    """Tour 11: constant columns were accepted with no word, by the command line and the dashboard's preview alike."""
    frame = read_table(_csv(tmp_path, "a,b,c,y\n" + "".join(f"{i}.5,5,red,{i % 2}\n" for i in range(40))))
    schema = infer_schema(frame, "y", {"c": "categorical"})
    assert [c.kind for c in schema.columns] == ["numeric", "categorical", "categorical"]  # watched for drift all the same
    assert "one value only (5)" in schema.column("b").note and "one value only ('red')" in schema.column("c").note
    assert "one value" not in schema.column("a").note


def test_true_and_false_with_a_gap_are_called_true_or_false_not_text(tmp_path: Path) -> None:
    """Tour 15: pandas reads a CSV's True/False column with an empty cell as text, and the kind review said "text"."""
    frame = read_table(
        _csv(tmp_path, "a,b,c,y\n" + "".join(f"{['True', 'False', ''][i % 3]},{['yes', 'no'][i % 2]},{i},{i % 2}\n" for i in range(30)))
    )
    schema = infer_schema(frame, "y")
    assert schema.column("a").note == "true or false" and schema.column("a").missing
    assert schema.column("b").note == "text"


def test_dates_written_as_text_are_called_a_date_not_an_identifier(tmp_path: Path) -> None:
    """Tour 17: "9 May 2024" is text to pandas, and the kind review called the column an identifier or free text."""
    days = pd.date_range("2024-01-01", periods=150, freq="D")
    frame = pd.DataFrame({"when": days.strftime("%-d %B %Y"), "code": [f"c{i}x" for i in range(150)], "x": range(150), "y": [0, 1] * 75})
    schema = infer_schema(frame, "y")
    assert schema.column("when").kind == "ignored" and schema.column("when").note == "a date or time: choose it as the time column"
    assert schema.column("code").note.startswith("an identifier or free text")


def test_a_target_with_one_true_or_false_class_encodes_and_refuses_the_other_word_as_a_label(tmp_path: Path) -> None:
    """Review of 9ca330c: spelling the unseen word for the target too made the class lookup read a class "False"
    that is not one, and a file with classes True and pending could not be encoded."""
    frame = read_table(_csv(tmp_path, "a,y\n" + "".join(f"{i},{['True', 'pending'][i % 2]}\n" for i in range(40))))
    schema = infer_schema(frame, "y")
    assert schema.classes == ("True", "pending") and encode(frame, schema, labelled=True).y.tolist() == [0, 1] * 20
    with pytest.raises(UserInputError, match="'false' is not a known class"):
        encode(pd.DataFrame({"a": [1], "y": ["false"]}), schema, labelled=True)
    assert encode(pd.DataFrame({"a": [1], "y": ["TRUE"]}), schema, labelled=True).y.tolist() == [0]


def test_missing_values_are_found_and_allowed_per_column(tmp_path: Path) -> None:
    frame = read_table(_csv(tmp_path, "a,b,c,y\n1.5,x,NA,0\n,y,2,1\n3.5,,?,0\n4.5,x,5,1\n"))
    schema = infer_schema(frame, "y")
    assert [(c.name, c.missing) for c in schema.columns] == [("a", True), ("b", True), ("c", True)]
    encoded = encode(frame, schema, labelled=True)
    assert np.isnan(encoded.X["a"].iloc[1]) and pd.isna(encoded.X["b"].iloc[2]) and encoded.y.tolist() == [0, 1, 0, 1]


@pytest.mark.parametrize(
    ("text", "target", "message"),
    [
        ("1.5,2.5,0\n1.0,2.0,1\n", "0", "first line holds values"),
        ("a,a,y\n1,2,0\n3,4,1\n", "y", "duplicate column name(s) 'a'"),
        ("a,b,y\n1,2,0\n3,4,0\n", "y", "one class only"),
        ("a,b,y\n1,,0\n3,,1\n", "y", "b: every value is missing"),
        ("a,b,y\n1,2,0\n3,4,1\n", "z", "no column named 'z'"),
        ("a,b,y\n1,2,0\n3,4,\n", "y", "y: 1 row has no label"),
        ("a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(3)) + "x,1\n", "y", "a: mixes numbers and text"),
    ],
)
def test_a_file_that_cannot_be_a_table_is_refused_naming_the_column(tmp_path: Path, text: str, target: str, message: str) -> None:
    with pytest.raises(UserInputError) as caught:
        infer_schema(read_table(_csv(tmp_path, text)), target)
    assert message in str(caught.value)


def test_ten_thousand_categories_in_one_column_are_refused_with_what_to_do(tmp_path: Path) -> None:
    rows = [f"k{i % 10_000},{i * 0.5},{i % 2}" for i in range(20_000)]
    frame = read_table(_csv(tmp_path, "key,x,y\n" + "\n".join(rows) + "\n"))
    with pytest.raises(UserInputError, match=r"key: 10,000 distinct values is more than the 1,000 categories.*ignore it"):
        infer_schema(frame, "y")
    assert infer_schema(frame, "y", {"key": "ignored"}).column("key").kind == "ignored"


def test_a_feature_may_not_take_the_workbench_s_name_for_the_label() -> None:
    with pytest.raises(UserInputError, match="may not be called 'target'"):
        Schema((Column("target", "numeric"), Column("b", "numeric")), "y", (0, 1))


def test_a_parquet_file_reads_like_a_csv(tmp_path: Path) -> None:
    frame = generate_table(300, seed=3)
    frame.to_parquet(tmp_path / "t.parquet")
    read = read_table(tmp_path / "t.parquet")
    assert list(read.columns) == list(frame.columns) and len(read) == 300
    assert infer_schema(read, "outcome") == infer_schema(frame, "outcome")


def test_a_later_table_is_checked_by_name_in_any_order_and_unseen_categories_are_counted() -> None:
    first = generate_table(500, seed=1)
    schema = infer_schema(first, "outcome")
    later = generate_table(400, "new_category", 1.0, seed=2)
    shuffled = later[list(reversed(later.columns))]
    encoded = encode(shuffled, schema, labelled=True)
    assert list(encoded.X.columns) == schema.names
    assert encoded.unseen["plan"] == int((later["plan"] == "enterprise").sum()) > 0
    with pytest.raises(UserInputError) as caught:
        encode(later.drop(columns=["plan"]).assign(extra=1), schema, labelled=True)
    assert "missing column(s) 'plan'" in str(caught.value) and "unexpected column(s) 'extra'" in str(caught.value)


def test_a_label_never_seen_and_a_missing_value_where_none_is_allowed_are_refused() -> None:
    schema = infer_schema(generate_table(500, seed=1), "outcome")
    bad = generate_table(50, seed=4)
    bad.loc[3, "outcome"] = "maybe"
    bad.loc[5, "monthly_fee"] = np.nan
    with pytest.raises(UserInputError) as caught:
        encode(bad, schema, labelled=True)
    text = str(caught.value)
    assert "column outcome, row 5: 'maybe' is not a known class" in text and "column monthly_fee: 1 missing value," in text


def test_one_row_by_name_is_checked_field_by_field() -> None:
    schema = infer_schema(generate_table(500, seed=1), "outcome")
    row = {"monthly_fee": 30.0, "tenure_months": None, "support_calls": 2, "plan": "galaxy", "region": "region_01", "channel": "web"}
    table = named_rows(row, schema, 1, 1e12)
    assert list(table.columns) == schema.names and np.isnan(table["tenure_months"].iloc[0]) and table["support_calls"].iloc[0] == "2"
    refusals = {
        "features: unknown column(s) 'colour'": {**row, "colour": "red"},
        "features.monthly_fee: expected a number": {**row, "monthly_fee": "30"},
        "features.monthly_fee: is null": {**row, "monthly_fee": None},
        "features.plan: expected a category": {**row, "plan": ["pro"]},
        "features.plan: inf is not a category": {**row, "plan": float("inf")},
        "features.monthly_fee: 1e+200 must be a finite number": {**row, "monthly_fee": 1e200},
    }
    for message, bad in refusals.items():
        with pytest.raises(UserInputError) as caught:
            named_rows(bad, schema, 1, 1e12)
        assert str(caught.value).startswith(message), (message, str(caught.value))
    with pytest.raises(UserInputError, match="3 rows is more than the limit of 2"):
        named_rows([row] * 3, schema, 2, 1e12)


def test_the_weather_example_is_a_table_of_eight_named_numbers_and_a_rain_label() -> None:
    frame = read_table(EXAMPLES / "weather.csv")
    schema = infer_schema(frame, "rain")
    assert len(frame) == 18_159 and schema.classes == (0, 1)
    assert schema.numeric == ["temperature", "dew_point", "sea_level_pressure", "visibility", "average_wind_speed", "max_wind_speed",
                              "max_temperature", "min_temperature"]  # fmt: skip
