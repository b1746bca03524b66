"""The reading layer: a checkpoint directory on disk -> an immutable :class:`~dashboard.run_state.RunState`.

It imports no other dashboard layer (only :mod:`dashboard.run_state`, :mod:`dashboard.errors` and
the shared vocabulary :mod:`thalia_logging.contract`); ``tests/test_layers.py`` keeps it so. All
disk access goes through one :class:`~dashboard.reading.fs.FileSystem`.

The hops a logged line takes, in order (one module each):

1. :mod:`~dashboard.reading.fs` and :mod:`~dashboard.reading.safefile`: the file is vetted (a
   regular file inside the directory) and opened without blocking;
2. :mod:`~dashboard.reading.tailer`: only the bytes appended since the last read are read
   (a truncated, replaced or rotated file is noticed);
3. :mod:`~dashboard.reading.linebuffer`: the bytes are cut into complete lines (a partial last
   line waits; an overlong one is reported);
4. :mod:`~dashboard.reading.arrow_fastpath` (big blocks of plain lines, parsed as columns by
   pyarrow) or else :mod:`~dashboard.reading.line_parser` (the reference, one line at a time,
   with a reason for every bad line);
5. :mod:`~dashboard.reading.directory` applies the timeline rules (resumes, restarts) and
   appends rows to a :mod:`~dashboard.reading.column_store` (chunks of numpy columns,
   :mod:`~dashboard.reading.chunks`, moved into the one copy of the frame's columns, a
   :mod:`~dashboard.reading.sorted_table`: sorted by step, rows sharing a step merged, their
   raw rows kept aside in :mod:`~dashboard.reading.raw_rows`, big numeric columns spilled to
   disk with only recent rows resident, :mod:`~dashboard.reading.spill`; explicitly logged non-finite values go to :mod:`~dashboard.reading.nonfinite`);
6. :mod:`~dashboard.reading.frame_snapshot`: the table's rows at one moment, a DataFrame of
   views built on first use;
7. :class:`~dashboard.run_state.RunState`: the frames, metadata
   (:mod:`~dashboard.reading.metadata`), warnings and bad lines of one refresh, handed out by
   :mod:`~dashboard.reading.watcher` (which decides when to read again).

:mod:`~dashboard.reading.console_tail` reads the end of ``console.log`` through the same seam.
A remote directory (``s3://``, ``gs://``, ``sftp://``) is the same seam over fsspec
(:mod:`~dashboard.reading.remote_fs`, range reads in :mod:`~dashboard.reading.range_file`,
``--storage-option`` values in :mod:`~dashboard.reading.storage_options`); a log written in
segment mode is read by :mod:`~dashboard.reading.segments`.
"""

__all__: list[str] = []
