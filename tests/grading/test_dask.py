"""The Dask path on a LocalCluster grades a batch exactly as the local process pool does."""
import pytest

from grading_support import factorial_program
from vmlab.grading import runner, sandbox
from vmlab.grading.labs import lab01

distributed = pytest.importorskip("distributed", reason="pip install distributed (the grading extra)")
LIMITS = sandbox.Limits(wall=120, cell=20, memory=4 << 30)


@pytest.mark.slow
def test_local_cluster_gives_the_local_results(tmp_path):
    from vmlab.grading.dask_fanout import grade_dask
    subs = tmp_path / "subs"
    subs.mkdir()
    m = lab01.exercises["factorial"].params("ann")["modulus"]
    (subs / "ann.py").write_text(f"answer = {factorial_program(m)!r}\n")
    (subs / "ben.py").write_text(f"answer = {factorial_program(m)!r}\n")     # ann's modulus: wrong for ben
    (subs / "cid.s").write_text(factorial_program(lab01.exercises['factorial'].params("cid")["modulus"], False))
    jobs = runner.find_submissions([str(subs)])
    local = runner.grade_local(jobs, "lab01", None, "s", LIMITS, [str(subs)], workers=2)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        remote = grade_dask(jobs, "lab01", None, "s", LIMITS, cluster.scheduler_address)  # as --scheduler
    view = lambda rs: [(r.student, r.score, [o.feedback() for o in r.outcomes], r.error) for r in rs]
    assert view(remote) == view(local)
    scores = {r.student: r.score for r in local}
    assert scores["ann"] == 6 and scores["ben"] < 6 and 0 < scores["cid"] < 6
