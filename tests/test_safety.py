"""Crash safety: a save killed at any moment leaves the old workbook or the new one, whole."""

import os
import random
import signal
import subprocess
import sys
import time

import openpyxl
import pytest

import crmbook

BATCH = 150

SAVER = """
import sys, crmbook
path, batch = sys.argv[1], int(sys.argv[2])
print("ready", flush=True)
while True:
    book = crmbook.open(path)
    book.customers.add_many([{"name": f"Kill test {i}", "city": "Zürich"} for i in range(batch)])
    book.save(backups=2)
"""


@pytest.mark.slow
def test_killing_a_save_at_random_moments_never_breaks_the_workbook(tmp_path):
    path = tmp_path / "shop.xlsx"
    book = crmbook.create(path)
    book.customers.add(name="Первый клиент")
    book.save()
    rng = random.Random(7)
    seen_counts = set()
    for _ in range(10):
        saver = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(path), str(BATCH)], stdout=subprocess.PIPE, text=True
        )
        assert saver.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 1.5))
        os.kill(saver.pid, signal.SIGKILL)
        saver.wait()
        reopened = crmbook.open(path)
        count = len(reopened.customers.df)
        assert (count - 1) % BATCH == 0, "a save was half-applied"
        assert reopened.validate().valid
        assert openpyxl.load_workbook(path, read_only=True)["Customers"].max_row >= count
        seen_counts.add(count)
    assert len(seen_counts) > 1, "no save completed between kills; the test proved nothing"


def test_two_processes_saving_at_once_never_interleave(tmp_path):
    path = tmp_path / "shop.xlsx"
    crmbook.create(path).save()
    script = """
import sys, crmbook
from crmbook.errors import SaveRefusedError
done = 0
for i in range(6):
    book = crmbook.open(sys.argv[1])
    book.customers.add(name=f"{sys.argv[2]} {i}")
    try:
        book.save(backups=0)
        done += 1
    except SaveRefusedError:
        pass
print(done)
"""
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(path), who], stdout=subprocess.PIPE, text=True
        )
        for who in ("anna", "boris")
    ]
    saved = sum(int(w.communicate()[0].strip()) for w in workers)
    names = crmbook.open(path).customers.df["name"].tolist()
    assert len(names) == saved, "a save was lost or doubled"
    assert len(set(names)) == len(names)
