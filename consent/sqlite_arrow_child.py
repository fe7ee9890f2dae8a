"""Child process of :mod:`consent.arrow_scan`: one query through ADBC's SQLite driver, rows to stdout as
an Arrow IPC stream. Imports nothing of fairgate, so it starts in a fraction of a second."""

from __future__ import annotations

import json
import sys

import adbc_driver_sqlite.dbapi
import pyarrow as pa


def main(path: str, sql: str, values: str, batch_rows: str = "65536") -> None:
    with adbc_driver_sqlite.dbapi.connect(path) as connection, connection.cursor() as cursor:
        # The driver's default is 1,024 rows a batch: a per-batch cost on every side of the pipe.
        cursor.adbc_statement.set_options(**{adbc_driver_sqlite.StatementOptions.BATCH_ROWS.value: batch_rows})
        cursor.execute(sql, tuple(json.loads(values)))
        reader = cursor.fetch_record_batch()
        with pa.ipc.new_stream(sys.stdout.buffer, reader.schema) as out:
            for batch in reader:
                out.write_batch(batch)


if __name__ == "__main__":
    main(*sys.argv[1:5])
