"""The monitor's own state next to its Spark checkpoint, in the lake (HDFS or ``file://``).

* ``LakeFiles``: small files through Hadoop's FileSystem (the baseline JSON), so any lake URI
  Spark can read works;
* ``DedupState``: the event ids seen within the dedup window, one Parquet folder per
  micro-batch (``dedup/batch_id=N/``). Batch N reads the folder of the newest batch before
  it, so when Spark runs a batch again after a crash it reads the same state and writes the
  same folder again; the two newest folders are kept.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from spark_jobs.stream_monitor import transforms


class LakeFiles:
    def __init__(self, spark: SparkSession) -> None:
        self._jvm = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _path(self, uri: str):
        path = self._jvm.org.apache.hadoop.fs.Path(uri)
        return path, path.getFileSystem(self._conf)

    def read_text(self, uri: str) -> str | None:
        path, fs = self._path(uri)
        if not fs.exists(path):
            return None
        stream = fs.open(path)
        try:
            return self._jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
        finally:
            stream.close()

    def write_text(self, uri: str, text: str) -> None:
        """Replace the file by writing a temporary one and renaming it."""
        path, fs = self._path(uri)
        tmp, _ = self._path(uri + ".tmp")
        stream = fs.create(tmp, True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()
        fs.delete(path, False)
        fs.rename(tmp, path)

    def children(self, uri: str) -> list[str]:
        path, fs = self._path(uri)
        if not fs.exists(path):
            return []
        return [status.getPath().getName() for status in fs.listStatus(path)]

    def delete(self, uri: str) -> None:
        path, fs = self._path(uri)
        fs.delete(path, True)


class DedupState:
    """The ids seen within the dedup window, one Parquet folder per micro-batch."""

    PREFIX = "batch_id="

    def __init__(self, spark: SparkSession, files: LakeFiles, root: str) -> None:
        self.spark = spark
        self.files = files
        self.root = root

    def _batches(self) -> list[int]:
        names = self.files.children(self.root)
        return sorted(int(n[len(self.PREFIX) :]) for n in names if n.startswith(self.PREFIX))

    def _folder(self, batch_id: int) -> str:
        return f"{self.root}/{self.PREFIX}{batch_id}"

    def before(self, batch_id: int) -> DataFrame:
        """The ids (``SEEN_SCHEMA``) left by the newest batch before ``batch_id``."""
        earlier = [b for b in self._batches() if b < batch_id]
        if not earlier:
            return self.spark.createDataFrame([], transforms.SEEN_SCHEMA)
        saved = self.spark.read.schema(transforms.DEDUP_SCHEMA).parquet(self._folder(earlier[-1]))
        return transforms.next_seen(saved)

    def save(self, batch_id: int, ids: DataFrame) -> DataFrame:
        """Write ``dedup_ids`` of ``batch_id`` and return what was written; keep the state of
        the batch before it, which a re-run of this one reads."""
        folder = self._folder(batch_id)
        ids.coalesce(1).write.mode("overwrite").parquet(folder)
        for old in self._batches():
            if old < batch_id - 1:
                self.files.delete(self._folder(old))
        return self.spark.read.schema(transforms.DEDUP_SCHEMA).parquet(folder)
