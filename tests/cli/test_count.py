"""`newsletter count` end to end: output and exit codes, in-process and as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from newsletter.cli import app

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_count(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """Run `python -m newsletter count ARGS` with `stdin` as raw bytes."""
    return subprocess.run(
        [sys.executable, "-m", "newsletter", "count", *args],
        input=stdin,
        capture_output=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )


def stdout_lines(result: subprocess.CompletedProcess[bytes]) -> list[str]:
    return result.stdout.decode("utf-8").splitlines()


def invoke_count(*args: str, stdin: bytes = b"") -> tuple[int, list[str], str]:
    """Run `count ARGS` in-process; return exit code, stdout lines and stderr."""
    result = CliRunner().invoke(app, ["count", *args], input=stdin)
    return result.exit_code, result.stdout.splitlines(), result.stderr


def test_counts_an_argument_for_x_by_default() -> None:
    url = "https://www.economie.gouv.fr/plan-energie-2025/aides-menages"
    prefix = "« Près de 900 000 ménages » : "
    assert invoke_count(prefix + url)[:2] == (0, [f"{len(prefix) + 23}/280"])


def test_reads_stdin_bytes_dropping_one_newline_only() -> None:
    text = "a\rb\u2028c\u0085d\n"
    result = run_count("--platform", "bluesky", "-", stdin=(text + "\n").encode("utf-8"))
    assert result.returncode == 0, result.stderr
    assert stdout_lines(result) == [f"{len(text)}/300"]


def test_over_the_limit_exits_1_and_limit_can_be_raised() -> None:
    assert invoke_count("--platform", "mastodon", "x" * 600)[:2] == (1, ["600/500"])
    raised = invoke_count("--platform", "mastodon", "--limit", "1000", "x" * 600)
    assert raised[:2] == (0, ["600/1000"])


def test_jsonl_prints_one_count_per_line_and_reports_bad_lines() -> None:
    good = [json.dumps("Bonjour"), json.dumps("ligne\navec\u2028séparateurs")]
    bad = ["42", "pas du JSON"]
    over = json.dumps("é" * 300) + "\r"
    stdin = "\n".join([*good, *bad, over]).encode("utf-8") + b"\n\xff\xfe\n"
    result = run_count("--jsonl", stdin=stdin)
    assert result.returncode == 2
    # "ligne" 5 + newline 1 + "avec" 4 + U+2028 2 (outside the v3 ranges) + "séparateurs" 11
    assert stdout_lines(result) == ["7/280", f"{5 + 1 + 4 + 2 + 11}/280", "300/280"]
    errors = result.stderr.decode("utf-8")
    assert "line 3" in errors and "line 4" in errors and "line 6" in errors
    assert "line 1:" not in errors and "line 5" not in errors


def test_jsonl_exits_1_when_a_text_is_over_its_limit() -> None:
    stdin = f"{json.dumps('court')}\n{json.dumps('x' * 301)}\n".encode()
    assert invoke_count("--jsonl", "--platform", "bluesky", stdin=stdin)[:2] == (1, ["5/300", "301/300"])


def test_threads_and_linkedin_are_counted_by_their_own_rules() -> None:
    assert invoke_count("--platform", "threads", "Bravo \U0001f389")[:2] == (0, ["10/500"])
    assert invoke_count("--platform", "linkedin", "Bravo \U0001f389")[:2] == (0, ["8/3000"])


def test_unknown_platform_is_a_usage_error_naming_the_choices() -> None:
    exit_code, _, errors = invoke_count("--platform", "myspace", "texte")
    assert exit_code == 2
    assert "mastodon" in errors


def test_jsonl_refuses_a_text_argument() -> None:
    exit_code, lines, errors = invoke_count("--jsonl", "texte")
    assert (exit_code, lines) == (2, [])
    assert "--jsonl" in errors


def test_stdin_that_is_not_utf8_is_reported() -> None:
    exit_code, lines, errors = invoke_count("-", stdin=b"caf\xe9\n")
    assert (exit_code, lines) == (2, [])
    assert "UTF-8" in errors
