"""Crash safety: a save killed at any moment leaves the old workbook or the new one, whole,
and the next crmbook run clears away the temporary file it left (never a live one)."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

import crmbook
from crmbook.io.safety import BACKUP_FOLDER

KILLS = 200
BATCH = 5

# One process imports crmbook once, opens the book and adds a batch, then forks a saver that
# runs save() (a fresh interpreter per kill would spend seconds starting): the saver says "s"
# just before save() and "d" when it returned, and is killed at a random moment inside the
# save window, measured from the saves let finish (the first three and every tenth try).
# While killed saves leave the file as it was, the next saver saves the same prepared batch
# again; once the file changed, the book is opened afresh with a new batch. Prints what it
# saw as JSON.
KILLER = r"""
import json, os, random, signal, statistics, sys, time
import crmbook
from crmbook.io.safety import FileState

path, kills, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(14)
windows, saved, inside, batches, tries = [], [], 0, 0, 0
while inside < kills and tries < 3 * kills:
    batches += 1
    book = crmbook.open(path)
    book.customers.df
    book.customers.add_many([{"name": f"batch {batches} customer {i}"} for i in range(batch)])
    while FileState.of(book.path) == book.storage.state and inside < kills:
        tries += 1
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            try:
                os.write(write_end, b"s")
                book.save(backups=2)
                os.write(write_end, b"d")
            except BaseException as e:
                os.write(write_end, b"e" + repr(e).encode()[:500])
            os._exit(0)
        os.close(write_end)
        said = os.read(read_end, 1)
        start = time.perf_counter()
        # The first saves, and every tenth after, run to the end: they measure the window
        # (which a busy machine stretches) and show that saves go on completing.
        killed = len(windows) >= 3 and tries % 10
        if killed:
            time.sleep(rng.uniform(0, 1.2 * statistics.median(windows[-5:])))
            os.kill(pid, signal.SIGKILL)
        rest = said
        while chunk := os.read(read_end, 600):
            rest += chunk
        os.close(read_end)
        os.waitpid(pid, 0)
        if b"e" in rest:
            print(json.dumps({"error": rest.decode(errors="replace")}))
            sys.exit(1)
        if rest == b"sd":
            saved.append(batches)
            windows.append(time.perf_counter() - start)
            break
        inside += killed
print(json.dumps({"inside": inside, "saved": saved, "tries": tries}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="forks a saver per kill (POSIX)")
def test_two_hundred_kills_inside_saves_break_nothing_and_leave_nothing(tmp_path):
    path = tmp_path / "shop.xlsx"
    book = crmbook.create(path)
    book.customers.add(name="Первый клиент")
    book.save()
    run = subprocess.run(
        [sys.executable, "-c", KILLER, str(path), str(KILLS), str(BATCH)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert "error" not in seen, seen["error"]  # every saver could open the book it was given
    assert seen["inside"] >= KILLS
    assert len(seen["saved"]) > 3, "no save completed between kills; the test proved nothing"
    reopened = crmbook.open(path)  # the next run: clears the last kill's leftover
    names = reopened.customers.df["name"].tolist()
    by_batch: dict[str, int] = {}
    for name in names[1:]:
        batch = name.split(" customer ")[0]
        by_batch[batch] = by_batch.get(batch, 0) + 1
    assert set(by_batch.values()) == {BATCH}, "a save was half-applied or applied twice"
    for batch in seen["saved"]:
        assert by_batch.get(f"batch {batch}") == BATCH, "a save that said so is missing"
    assert len(set(reopened.customers.keys)) == len(names)
    assert reopened.validate().valid
    assert openpyxl.load_workbook(path, read_only=True)["Customers"].max_row >= len(names)
    assert sorted(p.name for p in tmp_path.iterdir()) == [BACKUP_FOLDER, "shop.xlsx"]
    backups = sorted((tmp_path / BACKUP_FOLDER).iterdir())
    assert [p.name for p in backups] == ["shop.1.xlsx", "shop.2.xlsx"]
    for backup in backups:
        with zipfile.ZipFile(backup) as z:
            assert z.testzip() is None


def test_two_processes_saving_at_once_never_interleave(tmp_path):
    path = tmp_path / "shop.xlsx"
    crmbook.create(path).save(backups=0)
    script = """
import sys, crmbook
from crmbook.errors import SaveRefusedError
for i in range(6):
    book = crmbook.open(sys.argv[1])
    book.customers.add(name=f"{sys.argv[2]} {i}")
    try:
        book.save(backups=0)
        print(f"{sys.argv[2]} {i}", flush=True)
    except SaveRefusedError:
        pass
"""
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(path), who], stdout=subprocess.PIPE, text=True
        )
        for who in ("anna", "boris")
    ]
    reported = [name for w in workers for name in w.communicate()[0].split("\n") if name]
    names = crmbook.open(path).customers.df["name"].tolist()
    assert sorted(names) == sorted(reported), "a save was lost, doubled or not reported"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shop.xlsx"]


# ---------------------------------------------------------------- temporary files


def _leftover(path: Path, where: Path | None = None) -> Path:
    """What a save killed half-way leaves: a temporary file named after the book."""
    where = where or path
    leftover = where.with_name(f".{where.name}.crmbook-0123abcd")
    leftover.parent.mkdir(exist_ok=True)
    leftover.write_bytes(b"PK half a zip")
    return leftover


def test_the_next_run_removes_what_killed_saves_left(new_book):
    path = new_book.path
    beside = _leftover(path)
    old_style = path.with_name(f".{path.name}.crmbook-new")  # crmbook init killed half-way
    old_style.write_bytes(b"")
    backup = _leftover(path, path.parent / BACKUP_FOLDER / "crm.1.xlsx")
    others = [
        path.with_name(".other.xlsx.crmbook-0123abcd"),
        path.with_name(f".{path.name}.crmbook-outbox.jsonl"),  # the mail journal: never
        path.with_name("notes.txt"),
    ]
    for other in others:
        other.write_text("not this book's")
    crmbook.open(path)
    assert not beside.exists() and not old_style.exists() and not backup.exists()
    assert all(other.exists() for other in others)


HOLDER = """
import sys
from pathlib import Path
from crmbook.io.safety import Temporary
tmp = Temporary(Path(sys.argv[1]))
tmp.path.write_bytes(b"being written")
print(tmp.path, flush=True)
sys.stdin.read()
"""


@pytest.mark.skipif(os.name != "posix", reason="holds the file with an advisory lock (POSIX)")
def test_a_temporary_file_another_process_is_writing_is_left_alone(new_book):
    path = new_book.path
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    live = Path(holder.stdout.readline().strip())
    try:
        crmbook.open(path)
        assert live.read_bytes() == b"being written"
        book = crmbook.open(path)
        book.customers.add(name="Saved while another writes")
        book.save()
        assert live.exists()
    finally:
        holder.kill()
        holder.wait()
    crmbook.open(path)  # its writer is gone: now it is a leftover
    assert not live.exists()
