"""``main.py echo NODE`` against dcmtk's storescp on loopback: a configured node
answers, a node that refuses us or is not there is one line and its exit
status, and a node that is not configured names how to define one."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import run_cli
from tests.support.dcmtk_peers import free_port, storescp


def configure(home: Path, **values: str) -> None:
    for key, value in values.items():
        done = run_cli("config", "set", key, value, home=home)
        assert done.returncode == 0, done.stderr


def one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def test_a_configured_node_answers_from_our_ae_title(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with storescp(tmp_path / "in", "PACS") as port:
        configure(home, **{"dicom.nodes.pacs": f"PACS@127.0.0.1:{port}",
                           "dicom.ae_title": "READROOM1"})
        done = run_cli("echo", "pacs", "--json", home=home)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert (doc["node"], doc["ae_title"], doc["port"]) == ("pacs", "PACS", port)
    assert doc["calling_ae_title"] == "READROOM1" and doc["seconds"] < 10


def test_a_node_that_refuses_us_is_one_line_and_exit_1(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with storescp(tmp_path / "in", "PACS", "--refuse") as port:
        configure(home, **{"dicom.nodes.pacs": f"PACS@127.0.0.1:{port}"})
        done = run_cli("echo", "pacs", home=home)
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert "rejected the association from MAMMODESK" in line and "pacs" in line


def test_a_node_that_is_not_there_is_offline_exit_3(tmp_path: Path) -> None:
    home = tmp_path / "home"
    configure(home, **{"dicom.nodes.gone": f"GONE@127.0.0.1:{free_port()}"})
    done = run_cli("echo", "gone", "--timeout", "3", home=home)
    assert done.returncode == 3
    assert "cannot be reached" in one_line(done.stderr)


def test_an_unknown_node_says_how_to_define_one(tmp_path: Path) -> None:
    home = tmp_path / "home"
    configure(home, **{"dicom.nodes.pacs": "PACS@pacs.example.org:104"})
    done = run_cli("echo", "ris", home=home)
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert "known: pacs" in line and "config set dicom.nodes.ris AET@host:port" in line
