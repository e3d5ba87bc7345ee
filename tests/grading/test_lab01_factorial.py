"""Lab 01's warm-up, n! mod a prime: the weaknesses the course review found are gone -- the
untouched stub scores nothing, 0! is always tested, an off-by-one loses points, and two
students get different moduli."""
from grading_support import factorial_program
from vmlab.grading.artifacts import program
from vmlab.grading.lab01 import is_prime, lab01

ex = lab01.exercises["factorial"]


def grade(student, source, secret="s"):
    p = ex.params(student)
    return ex.check({"program": program(source)}, p, ex.cases(student, p, hidden=True, secret=secret))


def test_the_stub_scores_nothing_and_the_solution_everything():
    stub = "_start:\n        # your code here: a0 = a0! mod your modulus\n        ecall\n"
    assert grade("amy", stub).score == 0
    assert grade("amy", factorial_program(ex.params("amy")["modulus"])).score == ex.points


def test_zero_factorial_is_always_a_visible_case():
    for student in ("amy", "bo", "cy"):
        p = ex.params(student)
        visible = ex.cases(student, p, hidden=False)
        assert visible[0].inputs["regs"]["a0"] == 0 and is_prime(p["modulus"])


def test_an_off_by_one_loses_points():
    """(n-1)! instead of n!: the loop starts one step late (0! still right)."""
    m = ex.params("amy")["modulus"]
    early = factorial_program(m).replace("beqz    a0, 2f", "beqz    a0, 2f\n        addi    a0, a0, -1")
    assert early != factorial_program(m)
    out = grade("amy", early)
    assert 0 < out.score < ex.points


def test_two_students_two_moduli():
    assert ex.params("amy")["modulus"] != ex.params("bo")["modulus"]
    assert grade("bo", factorial_program(ex.params("amy")["modulus"])).score < ex.points
