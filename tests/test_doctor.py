"""`python -m course_lib doctor`: version checks that can fail, and a fingerprint that is reproducible."""
from course_lib.doctor import fingerprint, pinned_requirements, version_report


def test_reads_every_pin_of_requirements_txt():
    pins = pinned_requirements()
    assert pins["torch"] == "2.13.0" and "nbval" in pins and "jupytext" in pins


def test_version_report_flags_a_mismatch_and_a_missing_package(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("# comment\npytest==0.0.1\nno-such-package-xyz==1.0  # inline\n")
    rows = {name: (pinned, installed, ok) for name, pinned, installed, ok in version_report(pinned_requirements(req))}
    assert rows["pytest"][2] is False and rows["pytest"][1] != "0.0.1"
    assert rows["no-such-package-xyz"] == ("1.0", "missing", False)


def test_installed_environment_matches_the_pins():
    bad = [row for row in version_report(pinned_requirements()) if not row[3]]
    assert not bad, f"installed versions differ from requirements.txt: {bad}"


def test_fingerprint_is_reproducible_and_depends_on_the_seed():
    a, b, c = fingerprint(0), fingerprint(0), fingerprint(1)
    assert a == b
    assert a["fingerprint"] != c["fingerprint"]
