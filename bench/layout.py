#!/usr/bin/env python3
"""A lake's Parquet layout, per table and column: encodings, uncompressed and compressed bytes,
values, and the min/max over its files (pyarrow's reading of the footers).

Two builds ingesting the same input write the same layout when an encoder change is meant to
leave the files alone: diff the two outputs. Columns that depend on the run (batch ids, ingest
times) can differ by a few bytes.
  lake run --lake /tmp/a --input /tmp/gen-100k --quiet   # one build
  other/lake run --lake /tmp/b --input /tmp/gen-100k --quiet
  .venv/bin/python bench/layout.py /tmp/a > a.txt; .venv/bin/python bench/layout.py /tmp/b > b.txt; diff a.txt b.txt
"""
import collections
import glob
import os
import sys

import pyarrow.parquet as pq

RUN_DEPENDENT = {"batch_id", "ingest_time", "ingested_at"}


def layout(root):
    agg = collections.defaultdict(lambda: [set(), 0, 0, 0, None, None])
    for f in sorted(glob.glob(os.path.join(root, "**", "*.parquet"), recursive=True)):
        table = "/".join(os.path.relpath(f, root).split(os.sep)[:2])
        md = pq.ParquetFile(f).metadata
        for g in range(md.num_row_groups):
            rg = md.row_group(g)
            for c in range(rg.num_columns):
                col = rg.column(c)
                a = agg[(table, col.path_in_schema)]
                a[0] |= set(col.encodings)
                a[1] += col.total_uncompressed_size
                a[2] += col.total_compressed_size
                a[3] += col.num_values
                st = col.statistics
                if st is not None and st.has_min_max and col.path_in_schema not in RUN_DEPENDENT:
                    a[4] = st.min if a[4] is None else min(a[4], st.min)
                    a[5] = st.max if a[5] is None else max(a[5], st.max)
    return agg


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: bench/layout.py LAKE_DIR")
    agg = layout(sys.argv[1])
    for (table, column), (enc, raw, packed, values, lo, hi) in sorted(agg.items()):
        print(table, column, sorted(enc), raw, packed, values, repr(lo)[:40], repr(hi)[:40])
