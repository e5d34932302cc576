"""A connector's field readers, each built once per field, read what `_read` reads (issue 15).

`field_mapper` splits every field's path once instead of once per record; on any record and any
field spec (a plain or dotted path, a constant, a join, a value map, a default) the readers give
what `_read` gives.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from yecai.connectors.generic_rest.connector import _read, field_mapper
from yecai.connectors.generic_rest.spec import FieldSpec

names = st.sampled_from(["a", "b", "c", "项目", ""])
paths = st.lists(names, min_size=1, max_size=3).map(".".join)
leaves = st.none() | st.integers(-3, 3) | st.text(max_size=4) | st.booleans()
items = st.recursive(
    leaves,
    lambda children: st.dictionaries(names, children, max_size=4) | st.lists(children, max_size=2),
    max_leaves=12,
)
mappings = st.dictionaries(st.text(max_size=3), leaves, max_size=2)
# a field spec names exactly one of from, const and join
specs = (
    paths
    | st.builds(
        lambda p, m, d: FieldSpec.model_validate({"from": p, "map": m, "default": d}), paths, mappings, leaves
    )
    | st.builds(
        lambda c: FieldSpec.model_validate({"const": c}), st.integers(0, 2) | st.text(min_size=1, max_size=3)
    )
    | st.builds(
        lambda j, d: FieldSpec.model_validate({"join": j, "default": d}),
        st.lists(paths, min_size=1, max_size=2).map(tuple),
        leaves,
    )
)


@settings(max_examples=500)
@given(st.dictionaries(st.text(min_size=1, max_size=5), specs, max_size=5), items)
def test_the_readers_read_what_read_reads(fields: dict[str, Any], item: Any) -> None:
    expected = {name: _read(item, spec) for name, spec in fields.items()}
    assert field_mapper(fields)(item) == expected
