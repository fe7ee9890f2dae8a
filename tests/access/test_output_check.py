"""Output checking rules, each over the smallest table that shows it."""

import pytest

from access.output_check import TableError, across, check, differencing, disguised, read_table, row_level, small_cells

SAFE = "site,male,female,total\nTaipei,12,15,27\nTainan,9,11,20\ntotal,21,26,47\n"


def test_a_table_of_large_counts_with_consistent_totals_passes() -> None:
    report = check(read_table(SAFE, "safe.csv"))
    assert report.ok
    assert "may be released" in report.text()


def test_counts_of_five_or_fewer_are_flagged_and_the_threshold_is_configurable() -> None:
    t = read_table("site,male,female\nTaipei,5,6\nTainan,0,12\n")
    assert [f.where for f in small_cells(t)] == ["row 'Taipei', column 'male'"]
    assert [f.where for f in small_cells(t, threshold=10)] == [
        "row 'Taipei', column 'male'",
        "row 'Taipei', column 'female'",
    ]


def test_a_single_suppressed_cell_is_recovered_from_the_row_total() -> None:
    t = read_table("site,male,female,total\nTaipei,,15,18\nTainan,9,11,20\n")
    (finding,) = differencing(t)
    assert finding.where == "row 'Taipei', column 'male'"
    assert "total minus the others (3)" in finding.message


def test_suppressed_cells_whose_sum_is_small_are_flagged() -> None:
    t = read_table("site,a,b,c,total\nTaipei,,,20,24\n")
    (finding,) = differencing(t)
    assert "add up to 4" in finding.message


def test_two_suppressed_cells_with_a_large_sum_pass() -> None:
    assert differencing(read_table("site,a,b,c,total\nTaipei,,,20,40\n")) == []


def test_symbols_and_ranges_in_place_of_counts_are_disguised_suppression() -> None:
    t = read_table("site,male,female\nTaipei,*,12\nTainan,<5,1-5\n")
    assert [f.where for f in disguised(t)] == [
        "row 'Taipei', column 'male'",
        "row 'Tainan', column 'male'",
        "row 'Tainan', column 'female'",
    ]


def test_a_relabelled_category_hiding_small_counts_is_disguised() -> None:
    t = read_table("site,count\nTaipei,30\nOther sites (<5 each),9\n")
    assert [f.where for f in disguised(t)] == ["row 'Other sites (<5 each)'"]


def test_row_level_data_is_not_an_aggregate() -> None:
    t = read_table("case_id,age,diagnosis\nc1,54,J84\nc2,61,C34\n")
    kinds = {f.kind for f in row_level(t)}
    assert kinds == {"row_level"}
    assert any("identifier" in f.message for f in row_level(t))
    assert any("hold text" in f.message for f in row_level(t))


def test_many_rows_of_zeros_and_ones_look_like_one_row_per_person() -> None:
    text = "person,smoker,copd\n" + "".join(f"p{i},{i % 2},1\n" for i in range(25))
    assert any("one row per person" in f.message for f in row_level(read_table(text)))


def test_two_tables_of_one_application_differing_by_a_few_units_are_flagged() -> None:
    everyone = read_table("site,male\nTaipei,40\nTainan,30\n", "all.csv")
    adults = read_table("site,male\nTaipei,37\nTainan,30\n", "adults.csv")
    (finding,) = across(everyone, adults)
    assert "difference (3)" in finding.message and finding.where == "row 'Taipei', column 'male'"


def test_a_ragged_file_fails_with_its_line() -> None:
    with pytest.raises(TableError, match="line 3: 2 cells where the header has 3"):
        read_table("site,a,b\nTaipei,10,12\nTainan,9\n", "t.csv")


def test_flagged_cells_count_each_cell_once_and_no_cell_for_a_line_or_the_table() -> None:
    # The 3 is small and also recoverable from its row total: two findings, one cell.
    table = read_table("site,young,old,total\nTaipei,3,,23\nTainan,40,50,90\n", "t.csv")
    report = check(table)
    assert {f.kind for f in report.findings} >= {"small_cell", "differencing"}
    assert report.flagged_cells == 2  # the 3, and the empty cell the row total gives back (20)
    assert check(read_table("patient_id,count\nA,10\nB,12\n", "rows.csv")).flagged_cells == 0
