"""The programme predicates, as a matrix of who × what."""
import pytest

from community.policy import can_create_programme, can_grant_programme_staff, can_manage_programme
from community.timeutil import utcnow


class Person:
    def __init__(self, admin=False, factor=False, staff=False, suspended=False):
        self.is_authenticated = True
        self.is_site_admin, self.is_programme_staff = admin, staff
        self.second_factor_at = utcnow() if factor else None
        self.is_active = not suspended


PEOPLE = {
    "plain member": Person(),
    "programme staff": Person(staff=True),
    "suspended staff": Person(staff=True, suspended=True),
    "admin without a second factor": Person(admin=True),
    "site admin": Person(admin=True, factor=True),
}
# who -> (create a programme, manage one they staff, manage another, grant the role)
EXPECTED = {
    "plain member": (False, False, False, False),
    "programme staff": (True, True, False, False),
    "suspended staff": (False, False, False, False),
    "admin without a second factor": (False, False, False, False),
    "site admin": (True, True, True, True),
}


@pytest.mark.parametrize("who", sorted(PEOPLE))
def test_programme_rules(who):
    person = PEOPLE[who]
    assert (can_create_programme(person), can_manage_programme(person, True),
            can_manage_programme(person, False), can_grant_programme_staff(person)) == EXPECTED[who]
