"""The one markdown table writer: a value cannot break the table it stands in."""

from __future__ import annotations

from mlops.markdown import table


def test_a_table_aligns_its_columns_and_escapes_what_would_break_it() -> None:
    lines = table(["slice", "rows"], [["group=A|B", 12], ["name=multi\nline", 3]], "lr")
    assert lines == [
        "| slice | rows |",
        "|---|---:|",
        "| group=A\\|B | 12 |",
        "| name=multi line | 3 |",
    ]
    assert all(line.count("|") - line.count("\\|") == 3 for line in lines)
