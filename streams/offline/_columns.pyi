"""The compiled columnar decoder (`_columns.c`)."""

Factor = tuple[list[str], bytes]  # distinct values, int64 codes (-1 missing)

def decode(values: list[bytes | None], keys: tuple[str, ...], /) -> tuple[
    list[int], bytes, bytes, bytes, Factor, tuple[Factor, ...]] | None: ...
