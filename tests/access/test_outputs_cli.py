"""``fairgate outputs check`` through the real CLI (typer's runner): report, exit codes, bad files."""

from pathlib import Path

from typer.testing import CliRunner

from catalog.cli import app


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_safe_table_exits_0_with_the_report(tmp_path: Path) -> None:
    table = _write(tmp_path, "t.csv", "site,male,female,total\nTaipei,12,15,27\nTainan,9,11,20\n")
    result = CliRunner().invoke(app, ["outputs", "check", str(table)])
    assert result.exit_code == 0, result.output
    assert "may be released" in result.output


def test_a_table_with_problems_exits_1_and_names_each_cell(tmp_path: Path) -> None:
    table = _write(tmp_path, "t.csv", "site,male,female,total\nTaipei,,15,18\nTainan,4,*,20\n")
    other = _write(tmp_path, "o.csv", "site,female\nTaipei,13\n")
    result = CliRunner().invoke(app, ["outputs", "check", str(table), "--threshold", "5", "--against", str(other)])
    assert result.exit_code == 1
    assert "[differencing] row 'Taipei', column 'male'" in result.output
    assert "[small_cell] row 'Tainan', column 'male'" in result.output
    assert "[disguised] row 'Tainan', column 'female'" in result.output
    assert "o.csv has 13" in result.output


def test_an_unreadable_table_exits_2_with_what_to_fix(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["outputs", "check", str(tmp_path / "missing.csv")])
    assert result.exit_code == 2
    assert "give the path of a CSV table" in result.output
