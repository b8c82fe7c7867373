"""What the DAGs start exists and accepts what they pass.

Each Spark task names ``spark_jobs/<job>/job.py``; each ``adplatform ...`` command of a
BashOperator must parse. A failure lists every missing piece with the task that needs it,
so that this test says what the pipeline still waits for.
"""

from __future__ import annotations

import ast
import shlex
from pathlib import Path

import pendulum

from adplatform.settings import REPO_ROOT

CONTEXT = {
    "ds": "2025-01-07",
    "run_id": "scheduled__2025-01-07T00:00:00+00:00",
    "data_interval_start": pendulum.datetime(2025, 1, 7, tz="UTC"),
    "data_interval_end": pendulum.datetime(2025, 1, 8, tz="UTC"),
}


def _tasks(dagbag, kind):
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            if isinstance(task, kind):
                yield dag, task


def _render(dag, task, text):
    return task.render_template(text, CONTEXT, jinja_env=dag.get_template_env())


def _flags(args: list[str]) -> list[str]:
    return [a for a in args if a.startswith("--")]


def _string_constants(path: Path) -> set[str]:
    """Strings of a job file and of the project modules it imports (its argument parser may
    be a shared one, e.g. ``spark_jobs.common.session.job_parser``)."""
    tree = ast.parse(path.read_text())
    files = [path]
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            ("spark_jobs.", "adplatform.")
        ):
            module = REPO_ROOT / Path(*node.module.split("."))
            files += [p for p in (module.with_suffix(".py"), module / "__init__.py") if p.is_file()]
    return {
        node.value
        for f in files
        for node in ast.walk(ast.parse(f.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def _has_main(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    return any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in tree.body)


def test_spark_tasks_resolve_to_job_files_that_exist(dagbag):
    from adplatform.orchestration.spark import PlatformSparkSubmitOperator

    missing = {}
    for dag, task in _tasks(dagbag, PlatformSparkSubmitOperator):
        path = Path(task.application)
        if not path.is_file():
            missing.setdefault(path.relative_to(REPO_ROOT).as_posix(), []).append(
                f"{dag.dag_id}.{task.task_id}"
            )
    assert not missing, "Spark job files the DAGs start do not exist yet:\n" + "\n".join(
        f"  {path}  (needed by {', '.join(users)})" for path, users in sorted(missing.items())
    )


def test_existing_job_files_have_main_and_know_every_flag_the_dags_pass(dagbag):
    from adplatform.orchestration.spark import PlatformSparkSubmitOperator

    problems = []
    for dag, task in _tasks(dagbag, PlatformSparkSubmitOperator):
        path = Path(task.application)
        if not path.is_file():
            continue  # reported by the test above
        where = f"{dag.dag_id}.{task.task_id} -> {path.relative_to(REPO_ROOT)}"
        if not _has_main(path):
            problems.append(f"{where}: no main(argv)")
        unknown = set(_flags(task.application_args)) - _string_constants(path)
        if unknown:
            problems.append(f"{where}: does not define {sorted(unknown)}")
    assert not problems, "\n".join(problems)


def test_the_cli_commands_of_the_dags_parse(dagbag):
    from airflow.providers.standard.operators.bash import BashOperator

    from adplatform.cli import build_parser

    problems = []
    for dag, task in _tasks(dagbag, BashOperator):
        argv = shlex.split(_render(dag, task, task.bash_command))
        assert argv[0] == "adplatform", f"{dag.dag_id}.{task.task_id}: {argv}"
        try:
            build_parser().parse_args(argv[1:])
        except SystemExit:
            problems.append(f"{dag.dag_id}.{task.task_id}: `{shlex.join(argv)}` does not parse")
    assert not problems, "adplatform commands the DAGs run are missing:\n" + "\n".join(problems)


def test_templates_render_to_the_run_partition(dagbag):
    from adplatform.orchestration.spark import PlatformSparkSubmitOperator

    for dag, task in _tasks(dagbag, PlatformSparkSubmitOperator):
        args = _render(dag, task, list(task.application_args))
        if "--ds" in args:
            assert args[args.index("--ds") + 1] == "2025-01-07"
        if "--until" in args:
            assert args[args.index("--until") + 1] == "2025-01-08T00:00:00+00:00"
        assert args[args.index("--run-id") + 1] == CONTEXT["run_id"]
