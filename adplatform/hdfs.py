"""The lake's files as the Python-side steps see them: WebHDFS for ``hdfs://``, local otherwise.

The tracking CSV intake and the done markers run outside Spark, in plain Python (an Airflow
task, the ``adplatform land`` command, the driver of the landing job). They need a handful
of file operations on the lake, which is HDFS by default and a local folder when
``ADPLATFORM_LAKE_URI`` is a ``file://`` URI:

* ``WebHdfs`` speaks the NameNode's WebHDFS REST API over ``requests`` (no Hadoop client, no
  JVM): writes follow the NameNode's redirect to a DataNode, reads follow it implicitly;
* ``LocalFileSystem`` does the same on a local folder (``file:///...`` or a plain path).

Both take full URIs (``hdfs://host:8020/adtech/landing/...``, ``file:///tmp/lake/...``) so
callers pass the paths of ``adplatform.lake`` unchanged; ``filesystem(uri, settings)``
picks the implementation. Errors are the built-in ones callers can act on
(``FileNotFoundError``, ``FileExistsError``); anything else is an ``HdfsError``, and an
unreachable NameNode is a ``UserError`` that says what to start.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import shutil
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

from adplatform.errors import UserError
from adplatform.settings import Settings

CHUNK_BYTES = 1024 * 1024
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 120.0


class HdfsError(OSError):
    """A filesystem operation the NameNode or DataNode refused; the message says why."""


@dataclass(frozen=True)
class FileStatus:
    """One entry of a folder: its full URI, last path component, kind, size and mtime."""

    uri: str
    name: str
    is_dir: bool
    size: int
    mtime_s: float


def join(uri: str, *parts: str) -> str:
    """``uri`` with path components appended (``join("hdfs://nn/a", "b", "c")``)."""
    return "/".join([uri.rstrip("/"), *(p.strip("/") for p in parts)])


def parent(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[0]


def basename(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


class FileSystem(ABC):
    """The operations the landing steps need, on full URIs."""

    @abstractmethod
    def status(self, uri: str) -> FileStatus | None:
        """The entry at ``uri``, or None when nothing is there."""

    @abstractmethod
    def list(self, uri: str) -> list[FileStatus]:
        """The entries of a folder, sorted by name; ``FileNotFoundError`` if it is missing."""

    @abstractmethod
    def mkdirs(self, uri: str) -> None:
        """Create a folder and its parents; nothing happens when it exists."""

    @abstractmethod
    def create(self, uri: str, data: bytes, *, overwrite: bool = False) -> None:
        """Write a whole file (parents created); ``FileExistsError`` unless ``overwrite``."""

    @abstractmethod
    def open(self, uri: str) -> Iterator[bytes]:
        """The file's bytes, in chunks; ``FileNotFoundError`` if it is missing."""

    @abstractmethod
    def rename(self, src: str, dst: str, *, overwrite: bool = False) -> None:
        """Move ``src`` to ``dst`` atomically (parents of ``dst`` created).

        ``FileExistsError`` when ``dst`` exists and not ``overwrite``; ``FileNotFoundError``
        when ``src`` is missing.
        """

    @abstractmethod
    def delete(self, uri: str, *, recursive: bool = False) -> bool:
        """Remove a file (or a folder with ``recursive``); False if nothing was there."""

    # -- built on the operations above ----------------------------------------------------

    def exists(self, uri: str) -> bool:
        return self.status(uri) is not None

    def read(self, uri: str) -> bytes:
        return b"".join(self.open(uri))

    def sha256(self, uri: str) -> str:
        """Hex SHA-256 of the file's content, streamed (the same on every filesystem)."""
        digest = hashlib.sha256()
        for chunk in self.open(uri):
            digest.update(chunk)
        return digest.hexdigest()

    def write_atomic(self, uri: str, data: bytes) -> None:
        """Replace ``uri`` with ``data`` so that a reader sees the old file or the new one.

        Written beside it under a hidden name first: a crash leaves at most a ``_tmp.*``
        file, which readers (Spark, the markers, the globs of the batch jobs) skip.
        """
        tmp = join(parent(uri), f"_tmp.{basename(uri)}.{uuid.uuid4().hex[:12]}")
        self.create(tmp, data, overwrite=True)
        self.rename(tmp, uri, overwrite=True)


# ---------------------------------------------------------------------------------------------
# WebHDFS


class WebHdfs(FileSystem):
    """WebHDFS REST client for ``hdfs://`` URIs, through one NameNode's HTTP address."""

    def __init__(self, http_url: str, user: str | None = None) -> None:
        self.http_url = http_url.rstrip("/")
        self.user = user or os.environ.get("HADOOP_USER_NAME") or getpass.getuser()
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        """One HTTP session per thread: markers are written by a few threads at once."""
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    @classmethod
    def from_settings(cls, settings: Settings) -> WebHdfs:
        host = settings.hdfs_namenode_host or settings.host
        return cls(f"http://{host}:{settings.hdfs_namenode_http_port}")

    def _url(self, uri: str) -> str:
        parts = urlsplit(uri)
        if parts.scheme not in ("hdfs", ""):
            raise ValueError(f"not an hdfs:// URI: {uri}")
        return f"{self.http_url}/webhdfs/v1{parts.path or '/'}"

    def _call(
        self,
        method: str,
        uri: str,
        op: str,
        *,
        ok: tuple[int, ...] = (200,),
        url: str | None = None,
        **params: object,
    ) -> requests.Response:
        query = {"op": op, "user.name": self.user, **params}
        try:
            response = self.session.request(
                method,
                url or self._url(uri),
                params=None if url else query,
                allow_redirects=False,
                timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
                stream=(op == "OPEN"),
            )
        except requests.ConnectionError:
            raise UserError(
                f"HDFS is not reachable at {self.http_url} (WebHDFS): start it with "
                "`adplatform stack up`, or set ADPLATFORM_HDFS_NAMENODE_HOST/_HTTP_PORT"
            ) from None
        if response.status_code not in ok:
            _raise_remote(response, op, uri)
        return response

    def _redirect(self, response: requests.Response, op: str, uri: str) -> str:
        location = response.headers.get("Location")
        if response.status_code != 307 or not location:
            raise HdfsError(f"WebHDFS {op} {uri}: expected a redirect, got {response.status_code}")
        return location

    def status(self, uri: str) -> FileStatus | None:
        try:
            answer = self._call("GET", uri, "GETFILESTATUS").json()["FileStatus"]
        except FileNotFoundError:
            return None
        return _status(uri.rstrip("/"), basename(uri), answer)

    def list(self, uri: str) -> list[FileStatus]:
        entries = self._call("GET", uri, "LISTSTATUS").json()["FileStatuses"]["FileStatus"]
        out = [_status(join(uri, e["pathSuffix"]), e["pathSuffix"], e) for e in entries]
        return sorted(out, key=lambda s: s.name)

    def mkdirs(self, uri: str) -> None:
        if not self._call("PUT", uri, "MKDIRS").json().get("boolean", False):
            raise HdfsError(f"WebHDFS MKDIRS {uri} refused")

    def create(self, uri: str, data: bytes, *, overwrite: bool = False) -> None:
        if not overwrite and self.exists(uri):
            raise FileExistsError(uri)
        first = self._call("PUT", uri, "CREATE", ok=(307,), overwrite=str(overwrite).lower())
        location = self._redirect(first, "CREATE", uri)
        try:
            response = self.session.put(
                location,
                data=data,
                headers={"Content-Type": "application/octet-stream"},
                timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
            )
        except requests.ConnectionError:
            raise UserError(
                f"the HDFS DataNode at {urlsplit(location).netloc} is not reachable "
                "(WebHDFS redirects writes to it): check that it runs"
            ) from None
        if response.status_code != 201:
            _raise_remote(response, "CREATE", uri)

    def open(self, uri: str) -> Iterator[bytes]:
        first = self._call("GET", uri, "OPEN", ok=(307,))
        location = self._redirect(first, "OPEN", uri)
        response = self._call("GET", uri, "OPEN", url=location)
        try:
            yield from response.iter_content(CHUNK_BYTES)
        finally:
            response.close()

    def rename(self, src: str, dst: str, *, overwrite: bool = False) -> None:
        if parent(src) != parent(dst):
            self.mkdirs(parent(dst))
        # With an explicit option WebHDFS uses HDFS's rename2, which raises instead of
        # answering "false" and never moves a file *into* a folder of the same name.
        self._call(
            "PUT",
            src,
            "RENAME",
            destination=urlsplit(dst).path,
            renameoptions="OVERWRITE" if overwrite else "NONE",
        )

    def delete(self, uri: str, *, recursive: bool = False) -> bool:
        answer = self._call("DELETE", uri, "DELETE", recursive=str(recursive).lower()).json()
        return bool(answer.get("boolean", False))


def _status(uri: str, name: str, entry: dict) -> FileStatus:
    return FileStatus(
        uri=uri,
        name=name,
        is_dir=entry["type"] == "DIRECTORY",
        size=int(entry.get("length", 0)),
        mtime_s=int(entry.get("modificationTime", 0)) / 1000.0,
    )


_REMOTE_ERRORS: dict[str, type[OSError]] = {
    "FileNotFoundException": FileNotFoundError,
    "FileAlreadyExistsException": FileExistsError,
}


def _raise_remote(response: requests.Response, op: str, uri: str) -> None:
    try:
        remote = response.json()["RemoteException"]
        exception, message = remote.get("exception", ""), remote.get("message", "")
    except (ValueError, KeyError, TypeError):
        exception, message = "", response.text[:300]
    if response.status_code == 404 and not exception:
        exception = "FileNotFoundException"
    error = _REMOTE_ERRORS.get(exception, HdfsError)
    raise error(f"WebHDFS {op} {uri}: {exception or response.status_code} {message}".strip())


# ---------------------------------------------------------------------------------------------
# Local folders


class LocalFileSystem(FileSystem):
    """The same operations on local files, for ``file://`` URIs and plain paths.

    Writes are fsynced (file and folder) before they return, so a file that a later step
    deletes from the inbox is on disk, not only in the page cache.
    """

    @staticmethod
    def path(uri: str) -> Path:
        parts = urlsplit(uri)
        if parts.scheme == "file":
            return Path(parts.path)
        if parts.scheme:
            raise ValueError(f"not a local path or file:// URI: {uri}")
        return Path(uri)

    def status(self, uri: str) -> FileStatus | None:
        path = self.path(uri)
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        return FileStatus(uri.rstrip("/"), path.name, path.is_dir(), st.st_size, st.st_mtime)

    def list(self, uri: str) -> list[FileStatus]:
        path = self.path(uri)
        out = []
        for child in sorted(path.iterdir()):
            try:
                st = child.stat()
            except FileNotFoundError:  # removed while listing
                continue
            out.append(
                FileStatus(
                    join(uri, child.name), child.name, child.is_dir(), st.st_size, st.st_mtime
                )
            )
        return out

    def mkdirs(self, uri: str) -> None:
        self.path(uri).mkdir(parents=True, exist_ok=True)

    def create(self, uri: str, data: bytes, *, overwrite: bool = False) -> None:
        path = self.path(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb" if overwrite else "xb") as fo:
            fo.write(data)
            fo.flush()
            os.fsync(fo.fileno())
        _fsync_dir(path.parent)

    def open(self, uri: str) -> Iterator[bytes]:
        with self.path(uri).open("rb") as fo:
            while chunk := fo.read(CHUNK_BYTES):
                yield chunk

    def rename(self, src: str, dst: str, *, overwrite: bool = False) -> None:
        source, target = self.path(src), self.path(dst)
        if not source.exists():
            raise FileNotFoundError(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        if overwrite:
            os.replace(source, target)
        elif source.is_dir():
            if target.exists():
                raise FileExistsError(dst)
            os.rename(source, target)
        else:
            # A hard link fails when the target exists: no window in which it is clobbered.
            try:
                os.link(source, target)
            except FileExistsError:
                raise FileExistsError(dst) from None
            except OSError:  # no hard links here (another device, some filesystems)
                if target.exists():
                    raise FileExistsError(dst) from None
                os.rename(source, target)
            else:
                os.unlink(source)
        _fsync_dir(target.parent)

    def delete(self, uri: str, *, recursive: bool = False) -> bool:
        path = self.path(uri)
        if not path.exists() and not path.is_symlink():
            return False
        if path.is_dir() and not path.is_symlink():
            if recursive:
                shutil.rmtree(path)
            else:
                path.rmdir()
        else:
            path.unlink()
        return True


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def filesystem(uri: str, settings: Settings) -> FileSystem:
    """The filesystem that serves ``uri``: WebHDFS for ``hdfs://``, local for the rest."""
    scheme = urlsplit(uri).scheme
    if scheme == "hdfs":
        return WebHdfs.from_settings(settings)
    if scheme in ("file", ""):
        return LocalFileSystem()
    raise UserError(f"{uri}: only hdfs://, file:// and local paths are supported here")
