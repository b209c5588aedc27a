"""A library on a disk that fills up during import: clear error, nothing lost.

The library lives on a small tmpfs mounted in a private mount namespace
(``unshare``), so the test needs no privileges and leaves nothing mounted.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import pytest

from tests.support.cli import ROOT

pytestmark = pytest.mark.slow  # the fast tier (-m "not slow") leaves it to CI


def test_import_onto_a_full_disk_then_with_room(small_cohort, tmp_path):
    assert shutil.which("unshare"), "util-linux unshare is needed for this test"
    mnt = tmp_path / "disk"
    mnt.mkdir()
    results = tmp_path / "results.json"
    inner = textwrap.dedent(f"""
        import json, os, subprocess, sys
        from pathlib import Path
        sys.path.insert(0, {str(ROOT)!r})
        from tests.support.cli import assert_library_consistent
        env = {{**os.environ, "MAMMODESK_HOME": {str(mnt)!r}}}
        def run():
            return subprocess.run([sys.executable, "main.py", "import",
                                   {str(small_cohort.out_dir)!r}],
                                  cwd={str(ROOT)!r}, env=env, capture_output=True, text=True)
        out = {{}}
        full = run()
        out["full"] = [full.returncode, full.stderr]
        out["after_full"] = assert_library_consistent(Path({str(mnt)!r}) / "library")
        subprocess.run(["mount", "-o", "remount,size=200m", {str(mnt)!r}], check=True)
        again = run()
        out["again"] = [again.returncode, again.stderr]
        out["after_again"] = assert_library_consistent(Path({str(mnt)!r}) / "library")
        json.dump(out, open({str(results)!r}, "w"))
    """)
    script = tmp_path / "inner.py"
    script.write_text(inner)
    # The disk holds the database and a few images, not the whole cohort.
    done = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
         f"mount -t tmpfs -o size=6m tmpfs {mnt} && {sys.executable} {script}"],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = json.loads(results.read_text())
    code, stderr = out["full"]
    assert code == 2
    lines = stderr.strip().splitlines()
    assert lines == ["mammodesk: error: cannot write to the library: no space left on device"]
    assert out["after_full"] < len(small_cohort.files)
    code, stderr = out["again"]
    assert code == 0, stderr
    assert out["after_again"] == len(small_cohort.files)
