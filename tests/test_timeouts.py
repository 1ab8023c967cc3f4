"""A hung test fails by name in bounded time instead of using up CI's 90 minutes."""

from __future__ import annotations

import subprocess
import sys
import time


def test_the_suite_has_a_per_test_time_limit(pytestconfig):
    assert pytestconfig.pluginmanager.hasplugin("timeout"), "pytest-timeout is not installed"
    assert 0 < float(pytestconfig.getini("timeout")) <= 600


def test_a_hung_test_fails_by_name_within_its_limit(tmp_path):
    (tmp_path / "test_hangs.py").write_text(
        "import time\n\ndef test_waits_forever():\n    time.sleep(600)\n", encoding="utf-8")
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "--timeout=2", str(tmp_path / "test_hangs.py")],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Timeout" in run.stdout and "test_waits_forever" in run.stdout
    assert time.monotonic() - started < 60
