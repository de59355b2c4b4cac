"""The read rules live in community/policy.py, and nowhere else.

"An active member" and "may read this circle" (active, the pledge accepted
where the circle asks one, a second factor where it requires one) drifted apart
when each module spelled them out. This test reads the package's source and
names the file and line of any module that spells them again: comparing a
membership's status, reading pledge_accepted_at or (outside the accounts area,
which keeps it) second_factor_at, or joining or filtering memberships by hand
instead of using policy's clauses.
"""
import ast
from pathlib import Path

import pytest

from community import policy

PACKAGE = Path(policy.__file__).parent
# policy.py owns the rules; the model defines the columns (and is_active).
ALLOWED = {"policy.py", "circles/models.py"}
# The accounts area keeps users.second_factor_at in step with the factors (and
# says has_second_factor); elsewhere, reading it is the second-factor rule.
FACTOR_KEEPERS = ("accounts/",)
MEMBERSHIP_STATUSES = {"active", "left", "removed", "banned"}
# Columns whose comparisons make up a membership rule (joined_at is a fact, not a rule).
RULE_COLUMNS = {"status", "user_id", "circle_id", "role", "pledge_accepted_at"}
POLICY_FUNCTIONS = {name for name, value in vars(policy).items()
                    if callable(value) and getattr(value, "__module__", "") == policy.__name__}


def _membership_column(node) -> bool:
    """Membership.<rule column>."""
    return (isinstance(node, ast.Attribute) and node.attr in RULE_COLUMNS
            and isinstance(node.value, ast.Name) and node.value.id == "Membership")


def _status_literal(node) -> bool:
    values = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else [node]
    return any(isinstance(v, ast.Constant) and v.value in MEMBERSHIP_STATUSES for v in values)


def _calls_policy(node) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in POLICY_FUNCTIONS)


def problems_in(source: str, factor_keeper: bool = False) -> list[tuple[int, str]]:
    """(line, what) for each read rule the source spells out itself (a factor
    keeper, the accounts area, may read second_factor_at)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_membership_column(side) for side in sides):
                found.append((node.lineno, "compares a Membership column"))
            elif (any(isinstance(s, ast.Attribute) and s.attr == "status" for s in sides)
                  and any(_status_literal(s) for s in sides)):
                found.append((node.lineno, "compares a membership status"))
        elif (isinstance(node, ast.Attribute) and node.attr == "pledge_accepted_at"
              and isinstance(node.ctx, ast.Load)):
            found.append((node.lineno, "reads pledge_accepted_at"))
        elif (isinstance(node, ast.Attribute) and node.attr == "second_factor_at"
              and isinstance(node.ctx, ast.Load) and not factor_keeper):
            found.append((node.lineno, "reads second_factor_at"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if _membership_column(node.func.value):
                found.append((node.lineno, f"filters memberships by hand (.{node.func.attr})"))
            elif (node.func.attr in ("join", "outerjoin") and node.args
                  and isinstance(node.args[0], ast.Name) and node.args[0].id == "Membership"
                  and not (len(node.args) > 1 and _calls_policy(node.args[1]))):
                found.append((node.lineno, "joins memberships by hand"))
    return sorted(found)


def test_no_module_but_policy_spells_a_read_rule():
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name in ALLOWED:
            continue
        for line, what in problems_in(path.read_text(encoding="utf-8"),
                                      factor_keeper=name.startswith(FACTOR_KEEPERS)):
            problems.append(f"community/{name}:{line}: {what}")
    assert problems == [], ("Use the clauses and predicates in community/policy.py:\n"
                            + "\n".join(problems))


@pytest.mark.parametrize("source, what", [
    ('select(M).where(Membership.status == "active")', "compares a Membership column"),
    ('q.where(Membership.user_id == uid)', "compares a Membership column"),
    ('if membership.status != "banned": pass', "compares a membership status"),
    ('ok = m.status in ("active", "left")', "compares a membership status"),
    ('x = membership.pledge_accepted_at', "reads pledge_accepted_at"),
    ('if user.second_factor_at is None: pass', "reads second_factor_at"),
    ('q.where(User.second_factor_at.is_not(None))', "reads second_factor_at"),
    ('q.where(Membership.circle_id.in_(ids))', "filters memberships by hand (.in_)"),
    ('q.join(Membership, on)', "joins memberships by hand"),
    ('q.outerjoin(Membership)', "joins memberships by hand"),
])
def test_the_checker_finds_each_way_of_spelling_a_rule(source, what):
    assert [w for _, w in problems_in(source)] == [what]


@pytest.mark.parametrize("source", [
    'q.join(Membership, active_membership(User.id, circle_id))',  # policy's clause
    'membership.pledge_accepted_at = now',                          # a write, in an action
    'user.second_factor_at = None',
    'membership.status = "left"',
    'if request.status == "pending": pass',                         # not a membership status
    'if rsvp.status == "going": pass',
    'q.where(ChatMessage.created_at > Membership.joined_at)',
])
def test_the_checker_lets_policy_clauses_and_writes_through(source):
    assert problems_in(source) == []
