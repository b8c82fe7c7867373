"""The project's Python code as one zip, for ``spark-submit --py-files``.

Spark executors on another machine (a standalone cluster, YARN, Kubernetes) do not have the
repository; the zip of ``adplatform`` and ``spark_jobs`` gives them the same code as the
driver. It is built when a Spark task starts (never while a DAG file is parsed), named by
the hash of its content, and reused by every task until the code changes; the newest
``KEEP`` zips stay so that a running application never loses the file it started with.

Code inside a zip is imported by ``zipimport``, which knows no namespace packages and no
files: every folder of modules gets an ``__init__.py`` in the zip (an empty one when the
repository has none), and a module must read its data files through ``importlib.resources``,
not through ``Path(__file__)`` (tests/dags/test_package.py).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from pathlib import Path

from adplatform.settings import REPO_ROOT

PACKAGES = ("adplatform", "spark_jobs")
KEEP = 5
# A fixed timestamp makes the zip's bytes depend on the content only.
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def package_files(root: Path = REPO_ROOT) -> list[Path]:
    """Every file of the packages (code and package data), without bytecode caches."""
    files = []
    for package in PACKAGES:
        for path in (root / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.append(path)
    return sorted(files)


def missing_inits(files: list[Path], root: Path) -> list[str]:
    """``__init__.py`` of folders holding modules without one (zipimport needs them)."""
    present = {p.relative_to(root).as_posix() for p in files}
    folders = {p.parent for p in files if p.suffix == ".py"}
    inits = {(f / "__init__.py").relative_to(root).as_posix() for f in folders}
    return sorted(inits - present)


def content_hash(files: list[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build(dest_dir: Path, root: Path = REPO_ROOT) -> Path:
    """The zip of the current code in ``dest_dir``, built unless it is there already."""
    files = package_files(root)
    inits = missing_inits(files, root)
    digest = content_hash(files, root)
    target = dest_dir / f"adplatform-{digest}.zip"
    if target.exists():
        return target
    dest_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=".building-", suffix=".zip")
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in files:
                info = zipfile.ZipInfo(path.relative_to(root).as_posix(), _ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
            for name in inits:
                zf.writestr(zipfile.ZipInfo(name, _ZIP_TIME), b"")
        # Two tasks building the same zip at once both write the same bytes: either wins.
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _prune(dest_dir, keep=target)
    return target


def _prune(dest_dir: Path, keep: Path) -> None:
    zips = sorted(dest_dir.glob("adplatform-*.zip"), key=lambda p: p.stat().st_mtime)
    for old in [z for z in zips if z != keep][: max(0, len(zips) - KEEP)]:
        old.unlink(missing_ok=True)
