"""Real-name labour (劳务实名制): the workers of each crew and their daily attendance.

Workers carry valid ID numbers (GB 11643, aged 18–60, mostly from the labour company's home
province), a phone and their own bank card (Luhn-valid but for the odd passbook number). For a
crew's labour line of N 工日, its workers clock in so their 1 or 0.5 工日 add up to exactly N: so
人工费 = Σ attendance 工日 × the team's day rate, per team and day, to the cent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from yecai.domain.identifiers import id_number_check_digit
from yecai.sandbox.pm import names, parties
from yecai.sandbox.pm.costs import LabourDay
from yecai.sandbox.pm.models import CostRecord, Project
from yecai.sandbox.pm.plan import CostPlan
from yecai.sandbox.pm.records import Attendance, Worker
from yecai.sandbox.pm.seeding import moment, office_time

FULL_DAY = Decimal(1)
HALF_DAY = Decimal("0.5")
_PHONE_PREFIXES = (
    "130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "155",
    "157", "158", "159", "176", "177", "178", "180", "181", "182", "183", "186", "187", "189", "199",
)  # fmt: skip
# Ages of site workers lean to the forties and fifties; (lowest, highest) and weight.
_AGE_BANDS = (((18, 29), 12), ((30, 39), 25), ((40, 49), 33), ((50, 60), 30))
_NON_LUHN_SHARE = 0.03


@dataclass(frozen=True, slots=True)
class Roster:
    """The workers of each crew (same order as plan.crews)."""

    teams: list[list[Worker]]

    @property
    def workers(self) -> list[Worker]:
        return [worker for team in self.teams for worker in team]


def _id_number(rng: random.Random, county: str, born: date, male: bool) -> str:
    sequence = rng.randint(0, 499) * 2 + (1 if male else 0)  # the 17th digit: odd men, even women
    body = f"{county}{born:%Y%m%d}{sequence:03d}"
    return body + id_number_check_digit(body)


def _luhn_digit(partial: str) -> str:
    """The check digit that makes `partial` + digit pass Luhn."""
    total = 0
    for position, char in enumerate(reversed(partial)):
        digit = int(char)
        if position % 2 == 0:  # doubled: these sit at odd places once the check digit is appended
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return str(-total % 10)


def _bank_card(rng: random.Random) -> tuple[str, str]:
    bank, bin_prefix = rng.choices(names.WORKER_BANKS, names.WORKER_BANK_WEIGHTS)[0]
    partial = f"{bin_prefix}{rng.randint(0, 10**12 - 1):012d}"
    check = _luhn_digit(partial)
    if rng.random() < _NON_LUHN_SHARE:
        check = str((int(check) + rng.randint(1, 9)) % 10)  # a passbook-style number: fails Luhn
    return bank, partial + check


def make_roster(
    rng: random.Random, project: Project, plan: CostPlan, first_day: date, taken_ids: set[str]
) -> Roster:
    """Workers of every crew, registered on entry (before the window, or when the site opens)."""
    code = project.project_code
    number = 0
    teams: list[list[Worker]] = []
    for crew in plan.crews:
        home = (
            crew.supplier[:2]
            if crew.supplier[:2] in names.HOME_COUNTIES
            else rng.choice(list(names.HOME_COUNTIES))
        )
        employer_tax_id = parties.tax_id(crew.supplier)
        size = (crew.size_high + 1) // 2 + rng.randint(1, 3)
        team: list[Worker] = []
        for _ in range(size):
            number += 1
            male = rng.random() < 0.92
            (low, high) = rng.choices([band for band, _ in _AGE_BANDS], [w for _, w in _AGE_BANDS])[0]
            age = rng.randint(low, high)
            # born so that the worker is `age` on the first day of the window (18–60 inclusive)
            born = first_day.replace(year=first_day.year - age - 1) + timedelta(days=rng.randint(1, 364))
            province = home if rng.random() < 0.8 else rng.choice(list(names.HOME_COUNTIES))
            county = rng.choice(names.HOME_COUNTIES[province])
            id_number = _id_number(rng, county, born, male)
            while id_number in taken_ids:
                id_number = _id_number(rng, county, born, male)
            taken_ids.add(id_number)
            bank, card = _bank_card(rng)
            if project.start_date < first_day:
                earliest = max(project.start_date, first_day - timedelta(days=180))
                entry = earliest + timedelta(days=rng.randint(0, max(0, (first_day - earliest).days - 1)))
            else:
                entry = project.start_date - timedelta(days=rng.randint(0, 3))
            stamp = office_time(rng, entry, 7, 11)
            team.append(
                Worker(
                    worker_id=f"RY-{code}-{number:04d}",
                    project_code=code,
                    name=names.worker_name(rng),
                    id_number=id_number,
                    gender="男" if male else "女",
                    birth_date=born,
                    phone=rng.choice(_PHONE_PREFIXES) + f"{rng.randint(0, 99_999_999):08d}",
                    bank_card=card,
                    bank_name=bank,
                    team_name=crew.team_name,
                    trade=names.CREW_TRADES.get(crew.trade.crew, "普工"),
                    employer_name=crew.supplier,
                    employer_tax_id=employer_tax_id,
                    day_rate=crew.rate,
                    entry_date=entry,
                    exit_date=None,
                    registered=True,
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
        teams.append(team)
    return Roster(teams)


_HOURS = tuple(Decimal(hours) for hours in range(4))
_TIMES: dict[tuple[int, int, int], str] = {}


def _clock(hour: int, minute: int, second: int) -> str:
    """ "HH:MM:SS", interned: a million attendance rows share 86,400 strings at most."""
    key = (hour, minute, second)
    text = _TIMES.get(key)
    if text is None:
        text = _TIMES[key] = f"{hour:02d}:{minute:02d}:{second:02d}"
    return text


def attendance_for(
    rng: random.Random,
    project: Project,
    records: list[CostRecord],
    labour_days: list[LabourDay],
    roster: Roster,
) -> dict[int, list[Attendance]]:
    """Attendance rows per labour cost line (keyed by its index in `records`)."""
    code = project.project_code
    number = 0
    out: dict[int, list[Attendance]] = {}
    for labour in labour_days:
        record = records[labour.record_index]
        day = record.business_date
        team = roster.teams[labour.crew_index]
        least = (labour.half_days + 1) // 2  # everyone a full day, one maybe half
        people = least + rng.randint(0, min(2, labour.half_days - least, len(team) - least))
        halves = 2 * people - labour.half_days  # people − halves full days + halves half days = N
        rows: list[Attendance] = []
        for position, worker in enumerate(rng.sample(team, people)):
            number += 1
            # One draw per row, cut into the minutes and seconds it needs (attendance is the
            # biggest stream; drawing each number separately made it the slowest part by far).
            bits = rng.getrandbits(64)
            bits, in_minute = divmod(bits, 30)
            bits, in_second = divmod(bits, 60)
            bits, out_minute = divmod(bits, 30)
            bits, out_second = divmod(bits, 60)
            bits, upload = divmod(bits, 1800)
            bits, shape = divmod(bits, 100)
            if position < halves:
                days, overtime = HALF_DAY, _HOURS[0]
                if shape < 50:  # morning half
                    check_in = _clock(6, 30 + in_minute, in_second)
                    out_hour, out_minute = 11, 30 + out_minute
                else:
                    check_in = _clock(13, in_minute, in_second)
                    out_hour, out_minute = 17, 30 + out_minute
            else:
                hours = 0 if shape < 80 else 1 if shape < 88 else 2 if shape < 96 else 3
                days, overtime = FULL_DAY, _HOURS[hours]
                check_in = _clock(6, 30 + in_minute, in_second)
                out_hour, out_minute = 17 + hours, 30 + out_minute
            # the face-recognition gate uploads within half an hour of clocking out
            stamp = moment(day, out_hour, out_minute, out_second) + timedelta(seconds=60 + upload)
            rows.append(
                Attendance(
                    attendance_id=f"KQ-{code}-{number:07d}",
                    project_code=code,
                    worker_id=worker.worker_id,
                    worker_name=worker.name,
                    id_number=worker.id_number,
                    team_name=worker.team_name,
                    work_date=day,
                    days=days,
                    overtime_hours=overtime,
                    check_in=check_in,
                    check_out=_clock(out_hour, out_minute, out_second),
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
        out[labour.record_index] = rows
    return out
