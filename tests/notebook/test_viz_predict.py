"""Predict-then-reveal in the walk view and the exit counts: nothing of the answer reaches
the browser (or the text) before the student answers; the answer is recorded and judged
against the reference walker / the trace."""
import random

from vmlab import sv39
from vmlab.grading.lab02 import TreeMemory, random_tree
from vmlab.viz import ExitCounts, WalkView
from vmlab.viz.walk import walk_answer


def _tree():
    t = random_tree(random.Random(7))
    return TreeMemory(t["words"]).read64, t["satp"], t["vas"]


def test_walk_is_hidden_until_the_prediction_then_judged():
    read64, satp, vas = _tree()
    v = WalkView(read64, satp, vas[0], "load", predict=True)
    truth = walk_answer(sv39.walk(read64, satp, vas[0], "load"))
    hidden = str(v.scene) + str(v.walk) + v.text()
    assert v.walk["asking"] and "slot-" not in hidden and "→" not in hidden
    assert (f"{truth:#x}" if isinstance(truth, int) else "fault ") not in str(v.walk)
    assert v.answer(truth) is True and not v.walk.get("asking")
    assert any(k.startswith("slot-") for k in (s["id"] for s in v.scene["shapes"]))
    v.show(vas[1], "store")
    assert v.walk["asking"] and v.answer("page fault" if isinstance(truth, int) else 0x1000) in (True, False)
    assert [p["right"] for p in v.predictions][0] is True and len(v.predictions) == 2


def test_a_wrong_prediction_is_recorded_as_wrong():
    read64, satp, vas = _tree()
    v = WalkView(read64, satp, vas[2], "fetch", predict=True)
    truth = v.predictions, walk_answer(v.result)
    wrong = "access fault" if truth[1] != "access fault" else 0x8000_0000
    assert v.answer(wrong) is False and "not right" in v.verdict
    v._on_msg(v, {"type": "predict", "answer": "x"}, [])        # nothing waiting: ignored
    assert len(v.predictions) == 1


def test_the_browser_field_answers_too():
    read64, satp, vas = _tree()
    v = WalkView(read64, satp, vas[0], "load", predict=True)
    text = walk_answer(v.result)
    v._on_msg(v, {"type": "predict", "answer": f"{text:#x}" if isinstance(text, int) else text}, [])
    assert v.predictions[0]["right"] and "right" in v.verdict


def test_without_predict_the_walk_shows_at_once():
    read64, satp, vas = _tree()
    v = WalkView(read64, satp, vas[0], "load")
    assert not v.walk.get("asking") and v.predictions == []


class _Trace:
    def __init__(self, counts):
        self.counts = counts

    def by_cause(self, kind=None):
        return self.counts


def test_exit_counts_hidden_then_revealed_and_judged():
    trace = _Trace({2: 5, 9: 3})
    v = ExitCounts(trace, predict=True)
    assert all(r["count"] is None for r in v.rows) and "5" not in v.text()
    names = [r["cause"] for r in v.rows]
    right = v.answer({names[0]: 5, names[1]: "4"})
    assert right == {names[0]: True, names[1]: False}
    assert [r["count"] for r in v.rows] == [5, 3] and v.verdict == "1 of 2 predicted right"
    trace.counts = {2: 6, 9: 3}
    v.ask()
    assert all(r["count"] is None for r in v.rows)
    v._on_msg(v, {"type": "predict", "answer": {names[0]: "6", names[1]: "3"}}, [])
    assert v.predictions[-1]["right"] == {names[0]: True, names[1]: True}


def test_exit_counts_rows_asked_by_name_in_any_case():
    v = ExitCounts(_Trace({13: 4}), causes=["load page fault", "Store/AMO page fault"])
    assert [r["count"] for r in v.rows] == [4, 0]


def _messages(widget) -> list[set]:
    """The state keys of each message the widget sends from now on."""
    sent: list[set] = []
    widget.send_state = lambda key=None: sent.append(set([key] if isinstance(key, str) else key or ()))
    return sent


def test_the_verdict_and_the_reveal_travel_in_one_message():
    # a page that saw "asking: false" without the verdict (or the verdict with the walk still
    # hidden) would show a half-revealed quiz: both go in the same state message
    read64, satp, vas = _tree()
    v = WalkView(read64, satp, vas[0], "load", predict=True)
    sent = _messages(v)
    v.answer(walk_answer(v.result))
    assert any({"walk", "verdict"} <= keys for keys in sent)
    assert not any(("walk" in keys) != ("verdict" in keys) for keys in sent)
    counts = ExitCounts(_Trace({8: 3}), predict=True)
    sent = _messages(counts)
    counts.answer({"ecall from U": 3})
    assert any({"rows", "verdict", "asking"} <= keys for keys in sent)
    assert not any(("verdict" in keys) != ("asking" in keys) for keys in sent)
