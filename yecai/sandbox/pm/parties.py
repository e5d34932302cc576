"""Who is who: 统一社会信用代码, bank accounts and invoice numbers of the parties in sandbox.pm.

A company is itself everywhere: its tax ID and its account are derived from its name alone (a
SHA-256 of the name picks the digits), so the same supplier on two projects carries the same
code. Codes are valid: the 9-character organisation code inside a credit code has its GB 11714
check character, the credit code its GB 32100 one. Invoice numbers are unique by construction.
"""

from __future__ import annotations

import hashlib

from yecai.domain.identifiers import uscc_check_character
from yecai.sandbox.pm import names

_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_BRANCHES = ("分行营业部", "新区支行", "城东支行", "城西支行", "高新技术开发区支行")
_DEFAULT_REGION = "110000"


def _digits(text: str, count: int, salt: str = "") -> str:
    digest = hashlib.sha256(f"{salt}|{text}".encode()).hexdigest()
    number = int(digest, 16)
    out = []
    for _ in range(count):
        number, digit = divmod(number, 10)
        out.append(str(digit))
    return "".join(out)


def _organisation_code(name: str) -> str:
    """Eight digits and the GB 11714 check character (0–9 or X)."""
    body = _digits(name, 8, "org")
    remainder = 11 - sum(int(d) * w for d, w in zip(body, _ORG_WEIGHTS, strict=True)) % 11
    check = {10: "X", 11: "0"}.get(remainder, str(remainder))
    return body + check


def region_of(name: str) -> str:
    """The division code a company registers under: its city, else its home province, else 110000."""
    for city, code in names.CITY_CODES.items():
        if name.startswith(city) or name.startswith(f"国网{city}"):
            return code
    for province, counties in names.HOME_COUNTIES.items():
        if name.startswith(province):
            return counties[0][:4] + "00"
    for city, code in names.CITY_CODES.items():
        if city in name:
            return code
    return _DEFAULT_REGION


def tax_id(name: str) -> str:
    """The 统一社会信用代码 of an organisation: 11 for government bodies, 12 institutions, 91 companies."""
    if name.endswith(("局", "委员会")):
        kind = "11"
    elif name.endswith(("医院", "学校", "中心")):
        kind = "12"
    else:
        kind = "91"
    first17 = kind + region_of(name) + _organisation_code(name)
    return first17 + uscc_check_character(first17)


def is_government(name: str) -> bool:
    """Government bodies buy with 普票: they cannot deduct input VAT."""
    return name.endswith(("局", "委员会"))


def bank_account(name: str, city: str) -> tuple[str, str]:
    """(bank branch, account number) of a company; accounts are not card numbers and skip Luhn."""
    digest = _digits(name, 40, "bank")
    bank, prefix, length = names.COMPANY_BANKS[int(digest[:2]) % len(names.COMPANY_BANKS)]
    branch = f"{bank}{city}{_BRANCHES[int(digest[2]) % len(_BRANCHES)]}"
    return branch, prefix + digest[4 : 4 + length - len(prefix)]


CONTRACTOR_TAX_ID = tax_id(names.CONTRACTOR_NAME)

_PAPER_MODULUS = 10**8
_DIGITAL_MODULUS = 10**15
_SCRAMBLE = 7919  # coprime with 10: x ↦ (x·7919 + c) mod 10ⁿ is a bijection, so numbers stay unique


def invoice_number(project_index: int, sequence: int, digital: bool, year: int, province: str) -> str:
    """An invoice number unique in the data set: 20 digits for 数电 invoices, 8 for paper ones."""
    if digital:
        serial = ((project_index * 10**7 + sequence) * _SCRAMBLE + 271828182845904) % _DIGITAL_MODULUS
        return f"{year % 100:02d}{province[:2]}2{serial:015d}"
    if sequence >= 10**5:
        raise ValueError(f"paper invoice sequence {sequence} exceeds 99999 for one project")
    serial = ((project_index * 10**5 + sequence) * _SCRAMBLE + 104729) % _PAPER_MODULUS
    return f"{serial:08d}"


def invoice_code(special: bool, year: int, province: str, sequence: int) -> str:
    """The code printed beside a paper invoice's number: 10 digits on 专票, 12 on 普票."""
    if special:
        return f"{province[:2]}00{year % 100:02d}1130"
    return f"0{province[:2]}00{year % 100:02d}{sequence % 1000:03d}11"
