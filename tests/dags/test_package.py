"""The code zip that Spark tasks ship with ``--py-files``: complete, reused, and usable.

spark-submit puts the zip *before* the repository on the path of the driver and of every
executor, so the jobs run the zip's code; it must work from there (zipimport), data files
included.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

from adplatform.orchestration import package
from adplatform.settings import REPO_ROOT


def test_the_zip_holds_both_packages_with_their_data_and_no_bytecode(tmp_path):
    built = package.build(tmp_path)
    names = set(zipfile.ZipFile(built).namelist())
    assert {
        "adplatform/__init__.py",
        "adplatform/contracts.py",
        "adplatform/schemas/bid_request.avsc",
        "adplatform/schemas/tracking_csv.json",
        "spark_jobs/__init__.py",
        "spark_jobs/common/landing.py",
    } <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_every_folder_of_modules_is_a_package_in_the_zip(tmp_path):
    """zipimport knows no namespace packages: a job folder without ``__init__.py`` would not
    import from the zip."""
    names = set(zipfile.ZipFile(package.build(tmp_path)).namelist())
    folders = {n.rsplit("/", 1)[0] for n in names if n.endswith(".py")}
    assert {f"{f}/__init__.py" for f in folders} <= names


def test_the_zip_is_built_once_per_version_of_the_code(tmp_path):
    first = package.build(tmp_path)
    mtime = first.stat().st_mtime_ns
    again = package.build(tmp_path)
    assert again == first and again.stat().st_mtime_ns == mtime
    assert [p.name for p in tmp_path.iterdir()] == [first.name]


def test_a_new_version_gets_a_new_zip_and_old_ones_are_pruned(tmp_path):
    root = tmp_path / "repo"
    for name in package.PACKAGES:
        (root / name).mkdir(parents=True)
        (root / name / "__init__.py").write_text("")
    out = tmp_path / "zips"
    built = []
    for version in range(package.KEEP + 2):
        (root / "adplatform" / "version.py").write_text(f"V = {version}\n")
        built.append(package.build(out, root))
    assert len(set(built)) == package.KEEP + 2
    assert sorted(out.glob("*.zip")) == sorted(built[-package.KEEP :])


ZIP_PROBE = """
import importlib, sys
sys.path.insert(1, sys.argv[1])  # where spark-submit puts --py-files
sys.path = [p for p in sys.path if p not in ("", ".", sys.argv[2])]
import adplatform, spark_jobs
assert adplatform.__file__.startswith(sys.argv[1]), adplatform.__file__
assert spark_jobs.__file__.startswith(sys.argv[1]), spark_jobs.__file__
for module in sys.argv[3:]:
    if module == "data-files":
        from adplatform import contracts
        contracts.bid_request_schema()
        contracts.impression_json_schema()
        contracts.tracking_csv_spec()
    else:
        importlib.import_module(module)
print("ok")
"""


def run_from_zip(tmp_path, *what: str) -> subprocess.CompletedProcess:
    """Python with the zip where spark-submit puts it and without the repository."""
    built = package.build(tmp_path / "zips")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-c", ZIP_PROBE, str(built), str(REPO_ROOT), *what],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_job_entry_point_imports_from_the_zip(tmp_path):
    jobs = sorted(p.parent.name for p in (REPO_ROOT / "spark_jobs").glob("*/job.py"))
    assert jobs, "no spark_jobs/<job>/job.py yet"
    out = run_from_zip(tmp_path, *(f"spark_jobs.{job}.job" for job in jobs))
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_code_from_the_zip_reads_its_data_files(tmp_path):
    """As on an executor: the package comes from the zip, its schemas too."""
    out = run_from_zip(tmp_path, "data-files")
    assert out.returncode == 0 and out.stdout.strip() == "ok", (
        "the jobs' code does not work from the --py-files zip (a module reads a data file "
        "through Path(__file__); use importlib.resources):\n" + out.stderr[-2000:]
    )
