"""A labelled PII test set built in code: realistic support sentences with known PII values.

Every value is generated to be *valid* (Luhn for card numbers, ISO 7064 mod-97 for IBANs,
a number `phonenumbers` accepts for its region, SSA rules for SSNs), so a miss is a miss of
the redactor, not of the test data. Look-alikes (order numbers, amounts, dates, tracking
numbers, ZIP codes, product codes) must come out unchanged. Deterministic for a given seed.

Hard cases on top (issue 13), with a `category` each: phones with a country code that are
possible but not valid (mistyped), lower-case full names in chatty openings, first names alone
after a greeting or "I spoke to". And look-alikes that are names support work needs (shops,
payment providers, device makers, products, places; many also first names or surnames), from
the lists in `BRAND_LISTS`, every third item held out: the redactor has no list of them.
Also imported by `benchmarks/pii.py` (by file path), so it has no pytest dependency.
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass

import phonenumbers


@dataclass(frozen=True)
class Case:
    """One message with the PII values it holds (entity, exact text as written).

    `category` names a hard sub-set ("mistyped", "lower-case full name"...) so its recall is
    reported on its own; `held_out` marks look-alikes built from list items kept out of the
    tuning (every third item), which show whether a fix generalises beyond the words seen."""

    text: str
    values: tuple[tuple[str, str], ...]
    category: str = ""
    held_out: bool = False


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    """A card number starting with `prefix`, `length` digits long, with a valid Luhn digit."""
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # these positions are doubled once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _group(number: str, sizes: list[int], sep: str) -> str:
    parts, i = [], 0
    for size in sizes:
        parts.append(number[i : i + size])
        i += size
    return sep.join(parts)


CARD_BRANDS = [
    # (name, prefixes, length, spaced grouping)
    ("visa", ["4"], 16, [4, 4, 4, 4]),
    ("mastercard", ["51", "52", "53", "54", "55", "2221", "2720", "23", "26"], 16, [4, 4, 4, 4]),
    ("amex", ["34", "37"], 15, [4, 6, 5]),
    ("discover", ["6011", "65"], 16, [4, 4, 4, 4]),
]


def make_pans(rng: random.Random, n: int) -> list[str]:
    """Valid PANs of several brands in plain, spaced and dashed layouts."""
    out = []
    for i in range(n):
        _, prefixes, length, groups = CARD_BRANDS[i % len(CARD_BRANDS)]
        number = luhn_complete(rng.choice(prefixes), length, rng)
        layout = (i // len(CARD_BRANDS)) % 3
        out.append(number if layout == 0 else _group(number, groups, " -"[layout - 1]))
    return out


# Country -> BBAN layout as (kind, count): n = digits, a = upper letters, c = alphanumerics.
IBAN_LAYOUTS = {
    "DE": [("n", 18)],
    "GB": [("a", 4), ("n", 14)],
    "FR": [("n", 10), ("c", 11), ("n", 2)],
    "ES": [("n", 20)],
    "NL": [("a", 4), ("n", 10)],
    "IT": [("a", 1), ("n", 10), ("c", 12)],
    "BE": [("n", 12)],
    "CH": [("n", 5), ("c", 12)],
    "AT": [("n", 16)],
    "PL": [("n", 24)],
    "PT": [("n", 21)],
    "IE": [("a", 4), ("n", 14)],
}
_ALPHABETS = {"n": string.digits, "a": string.ascii_uppercase, "c": string.digits + "ABCDEFGHJK"}


def iban_check_digits(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    return f"{98 - int(numeric) % 97:02d}"


def iban_valid(iban: str) -> bool:
    compact = iban.replace(" ", "").replace("-", "").upper()
    numeric = "".join(str(int(ch, 36)) for ch in compact[4:] + compact[:4])
    return int(numeric) % 97 == 1


def make_ibans(rng: random.Random, n: int) -> list[str]:
    """Valid IBANs of several countries, compact and in the printed groups-of-four layout."""
    out = []
    countries = list(IBAN_LAYOUTS)
    for i in range(n):
        country = countries[i % len(countries)]
        bban = "".join(
            rng.choice(_ALPHABETS[kind])
            for kind, count in IBAN_LAYOUTS[country]
            for _ in range(count)
        )
        iban = country + iban_check_digits(country, bban) + bban
        layout = (i // len(countries)) % 4
        if layout in (1, 3):  # the printed layout: groups of four
            iban = " ".join(iban[j : j + 4] for j in range(0, len(iban), 4))
        if layout == 2:  # country and check digits apart, the account typed in one run
            iban = f"{iban[:4]} {iban[4:]}"
        if layout == 3:  # typed in lower case
            iban = iban.lower()
        out.append(iban)
    return out


GIVEN = [
    "Maria", "David", "Aisha", "Liam", "Sofia", "Mohammed", "Chen", "Olivia", "Rahul", "Emma",
    "Lukas", "Yuki", "Fatima", "Carlos", "Hannah", "Dmitri", "Priya", "Noah", "Ingrid", "Kwame",
    "Isabella", "Mateo", "Zoe", "Omar", "Chloe", "Jonas", "Amara", "Ethan", "Leila", "Pierre",
    "Sean", "Grace", "Tomasz", "Nadia", "Samuel", "Elena", "Hiroshi", "Bianca", "Tariq", "Julia",
    "Rosa", "Victor", "Anika", "Diego", "Margaret", "Kevin", "Ayesha", "Finn", "Sara", "Andre",
]  # fmt: skip
SURNAMES = [
    "Gonzalez", "Smith", "Okafor", "Nguyen", "Rossi", "Kowalski", "Johansson", "Patel", "Müller",
    "Garcia", "O'Brien", "Tanaka", "Haddad", "Novak", "Fischer", "Silva", "Kim", "Anderson",
    "Dubois", "Ivanova", "Mensah", "Bauer", "Schmidt", "Lopez", "Wilson", "Chowdhury", "Hansen",
    "Moreau", "Costa", "Brown", "Yilmaz", "Petrov", "Martin", "Khan", "Murphy", "Jensen",
    "Romano", "Cohen", "Walker", "Sato", "Alvarez", "Lindqvist", "Adeyemi", "Thompson", "Weber",
]  # fmt: skip

EMAIL_DOMAINS = [
    "gmail.com", "outlook.com", "yahoo.co.uk", "web.de", "example.org", "mail.acme-corp.com",
    "proton.me", "orange.fr",
]  # fmt: skip


def make_emails(rng: random.Random, n: int) -> list[str]:
    out = []
    for i in range(n):
        g, s = rng.choice(GIVEN).lower(), rng.choice(SURNAMES).lower().replace("'", "")
        s = s.replace("ü", "u")
        local = [
            f"{g}.{s}",
            f"{g[0]}{s}{rng.randint(1, 99)}",
            f"{g}_{s}",
            f"{g}+orders",
            f"{s}.{g}",
        ][i % 5]
        email = f"{local}@{rng.choice(EMAIL_DOMAINS)}"
        out.append(email.upper() if i % 17 == 0 else email)
    return out


def _random_valid_number(rng: random.Random, region: str, kind: str) -> phonenumbers.PhoneNumber:
    """A random number `phonenumbers` considers valid, built on the region's example number."""
    types = {
        "fixed": phonenumbers.PhoneNumberType.FIXED_LINE,
        "mobile": phonenumbers.PhoneNumberType.MOBILE,
    }
    example = phonenumbers.example_number_for_type(region, types[kind])
    national = str(example.national_number)
    for _ in range(200):
        keep = 3 if region == "US" else 2
        candidate = national[:keep] + "".join(
            rng.choice(string.digits) for _ in range(len(national) - keep)
        )
        number = phonenumbers.parse(candidate, region)
        if phonenumbers.is_valid_number(number):
            return number
    return example


def make_phones(rng: random.Random, n: int) -> list[str]:
    """Phones of US, GB, DE and FR in national, international, E.164 and hand-typed layouts."""
    fmt = phonenumbers.PhoneNumberFormat
    out = []
    regions = ["US", "GB", "DE", "FR"]
    for i in range(n):
        region = regions[i % 4]
        number = _random_valid_number(rng, region, "mobile" if (i // 4) % 2 else "fixed")
        style = (i // 8) % 8
        national = phonenumbers.format_number(number, fmt.NATIONAL)
        intl = phonenumbers.format_number(number, fmt.INTERNATIONAL)
        digits = "".join(c for c in national if c.isdigit())
        if style == 0:
            text = national
        elif style == 1:
            text = intl
        elif style == 2:
            text = phonenumbers.format_number(number, fmt.E164)
        elif style == 3:  # hand-typed without the usual punctuation
            text = f"{digits[:3]}.{digits[3:6]}.{digits[6:]}" if region == "US" else digits
        elif style == 4:  # dashes everywhere / a leading 1 in the US
            text = "1-" + intl[3:] if region == "US" else intl.replace(" ", "-")
        elif style == 5:  # the trunk zero kept in brackets, as printed on European letterheads
            text = (
                f"+1 ({digits[:3]}) {digits[3:6]}-{digits[6:]}"
                if region == "US"
                else (intl.replace(" ", " (0)", 1))
            )
        elif style == 6:  # 00 international prefix / US without any separators
            text = digits if region == "US" else "00" + intl[1:]
        else:  # national conventions: dots in France, slash in Germany, spaces elsewhere
            if region == "FR":
                text = national.replace(" ", ".")
            elif region == "DE":
                area, _, rest = national.partition(" ")
                text = f"{area}/{rest.replace(' ', '')}"
            else:
                text = f"({digits[:3]}){digits[3:6]}-{digits[6:]}" if region == "US" else national
        out.append(text)
    return out


MISTYPED_REGIONS = ["US", "GB", "DE", "FR", "ES", "IT", "NL", "AU", "IN", "BR", "MX", "PL"]


def _mistyped_number(rng: random.Random, region: str) -> phonenumbers.PhoneNumber:
    """A number of the region's mobile length that is possible but not valid: what a customer
    with a slipped digit writes (the first digit kept where that still leaves an invalid
    number, so it looks like the region's; Spain's 6xxxxxxxx are all valid)."""
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    national = str(example.national_number)
    for attempt in range(10_000):
        first = national[0] if attempt < 200 else rng.choice("123456789")
        digits = first + "".join(rng.choice(string.digits) for _ in national[1:])
        number = phonenumbers.parse(f"+{example.country_code}{digits}")
        if phonenumbers.is_possible_number(number) and not phonenumbers.is_valid_number(number):
            return number
    raise ValueError(f"no possible-but-invalid number found for {region}")


def make_mistyped_phones(rng: random.Random, n: int) -> list[str]:
    """Possible-but-invalid numbers with a country code, in the layouts people type."""
    out = []
    for i in range(n):
        number = _mistyped_number(rng, MISTYPED_REGIONS[i % len(MISTYPED_REGIONS)])
        cc, nat = str(number.country_code), str(number.national_number)
        style = (i // len(MISTYPED_REGIONS)) % 6
        out.append(
            [
                f"+{cc}{nat}",  # E.164
                f"+{cc} {nat[:3]} {nat[3:6]} {nat[6:]}",
                f"00{cc} {nat[:3]} {nat[3:]}",
                f"+{cc}-{nat[:3]}-{nat[3:6]}-{nat[6:]}",
                f"+{cc} (0){nat[:3]} {nat[3:]}",
                f"(+{cc}) {nat}",
            ][style]
        )
    return out


# Hard name cases: lower-case full names in chatty openings, first names alone after a
# greeting or after "I spoke to ...", in either case.
LOWER_FULL_NAME_SENTENCES = [
    "hi its {g} {s} here, my order never came",
    "this is {g} {s}, i ordered a lamp last week",
    "hey im {g} {s} and my parcel is missing",
    "hello my name is {g} {s} and i need a refund",
    "hi, i'm {g} {s}. the blender arrived broken",
    "{g} {s} here, following up on my return",
]
GREETING_SENTENCES = [
    "hi {g}, thanks for getting back to me",
    "thanks {g}!",
    "Hi {g}, the replacement arrived today.",
    "Thanks {g}, that solved it.",
    "hello {g} - any news on the refund?",
    "Dear {g}, I am still waiting for the label.",
    "cheers {g}, have a good day",
    "Thank you {g}!",
]
SPOKE_TO_SENTENCES = [
    "I spoke to {g} yesterday and she promised a refund.",
    "i talked with {g} on the phone last week",
    "Your agent {g} said the refund was approved.",
    "I already spoke with {g} about this.",
    "your rep {g} told me to wait 5 days",
    "I was on the phone with {g} for an hour.",
    "i spoke to {g} earlier, she said to email you",
    "The agent, {g}, hung up on me.",
]

# Look-alikes of names that support work needs intact: (category, list, sentences). Items at
# positions 2, 5, 8... are held out. Several are also first names or surnames.
BRAND_LISTS = {
    "merchant": (
        [
            "Target",
            "Walmart",
            "Wendy's",
            "Costco",
            "Macy's",
            "Victoria's Secret",
            "Kohl's",
            "Best Buy",
            "Home Depot",
            "Trader Joe's",
            "Nordstrom",
            "Dillard's",
            "Sainsbury's",
            "Tesco",
            "John Lewis",
            "McDonald's",
            "Lowe's",
            "Marks & Spencer",
        ],
        [
            "I bought it at {b} last week.",
            "The {b} receipt shows a different price.",
            "Can I return it at {b}?",
            "I got a gift card from {b}.",
            "The charge says {b} but I never shopped there.",
        ],
    ),
    "payment": (
        [
            "PayPal",
            "Apple Pay",
            "Klarna",
            "Chase",
            "Venmo",
            "Wells Fargo",
            "Google Pay",
            "Afterpay",
            "Zelle",
            "Revolut",
            "Barclays",
            "Amex",
            "Monzo",
            "Affirm",
            "Discover",
        ],
        [
            "I paid with {b} and it went through twice.",
            "The {b} charge is still pending.",
            "Can you refund it to my {b} account?",
            "My {b} card was declined at checkout.",
            "I used {b} for the order.",
        ],
    ),
    "device": (
        [
            "Samsung",
            "Dell",
            "Ford",
            "Lenovo",
            "Sony",
            "Garmin",
            "Philips",
            "Bosch",
            "Tesla",
            "Miele",
            "Dyson",
            "Asus",
            "Logitech",
            "Fitbit",
            "Canon",
        ],
        [
            "My {b} phone keeps restarting.",
            "The {b} laptop will not charge.",
            "Is this compatible with my {b}?",
            "The {b} support line told me to contact you.",
            "I have a {b} and the cable does not fit.",
        ],
    ),
    "product": (
        [
            "Jordan",
            "Kindle",
            "Galaxy",
            "AirPods",
            "Roomba",
            "Xbox",
            "Vitamix",
            "Nespresso",
            "Instant Pot",
            "PlayStation",
            "Fire Stick",
            "Echo Dot",
            "MacBook",
            "Surface Pro",
            "Chromebook",
        ],
        [
            "The {b} I ordered arrived damaged.",
            "I want to return the {b}.",
            "My {b} stopped working after a week.",
            "Do you still sell the {b} in black?",
            "The {b} box was empty when it arrived.",
        ],
    ),
    "place": (
        [
            "Austin",
            "Paris",
            "Georgia",
            "Sydney",
            "Charlotte",
            "Madison",
            "Phoenix",
            "Denver",
            "Florence",
            "Savannah",
            "Jackson",
            "Dallas",
            "Victoria",
            "Orlando",
            "Manchester",
            "Chester",
            "Lincoln",
            "Houston",
        ],
        [
            "It shipped from {b} on Monday.",
            "The package is stuck in {b}.",
            "Do you deliver to {b}?",
            "I live near {b} and it never arrived.",
            "The {b} warehouse says it left already.",
        ],
    ),
}


def brand_lookalikes() -> dict[str, list[Case]]:
    """Sentences with brand, merchant, payment, device, product and place names, per
    category; each name in each of its category's sentences (no PII at all)."""
    return {
        category: [
            Case(template.format(b=name), (), category, held_out=k % 3 == 2)
            for k, name in enumerate(names)
            for template in templates
        ]
        for category, (names, templates) in BRAND_LISTS.items()
    }


def _named_cases(
    rng: random.Random, n: int, sentences: list[str], category: str, lower: bool
) -> list[Case]:
    out = []
    for i in range(n):
        g, s = rng.choice(GIVEN), rng.choice(SURNAMES)
        if lower:
            g, s = g.lower(), s.lower()
        template = sentences[i % len(sentences)]
        values = [("PERSON", g)] + ([("PERSON", s)] if "{s}" in template else [])
        out.append(Case(template.format(g=g, s=s), tuple(values), category))
    return out


def make_ssns(rng: random.Random, n: int) -> list[str]:
    """SSNs that follow SSA rules (no 000/666/9xx area, no 00 group, no 0000 serial)."""
    out = []
    for i in range(n):
        area = rng.choice([a for a in range(1, 900) if a != 666])
        group, serial = rng.randint(1, 99), rng.randint(1, 9999)
        sep = ["-", " ", "-", "."][i % 4]
        out.append(f"{area:03d}{sep}{group:02d}{sep}{serial:04d}")
    return out


def make_ips(rng: random.Random, n: int) -> list[str]:
    out = []
    for i in range(n):
        if i % 3 == 2:
            out.append(":".join(f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)))
        else:
            out.append(".".join(str(rng.randint(1, 254)) for _ in range(4)))
    return out


CARD_SENTENCES = [
    "My card number is {v} and it was charged twice.",
    "Please refund it to {v}, that's the Visa I used.",
    "I paid with {v} but the order still shows unpaid.",
    "The charge on card {v} is not mine!!",
    "can you update my payment to {v} exp 04/27",
]
IBAN_SENTENCES = [
    "Please send the refund to my IBAN {v}.",
    "My bank account is {v} (Sparkasse).",
    "Refund to {v} please, thanks",
    "IBAN: {v}",
    "I changed banks, the new account is {v}, can you update it?",
    "Ticket TK42 {v} is the account for the refund.",
]
EMAIL_SENTENCES = [
    "You can reach me at {v} anytime.",
    "My email is {v}",
    "I never got the confirmation at {v}, can you resend?",
    "Please update the account email to {v}.",
    "Send the label to {v} thanks",
]
PHONE_SENTENCES = [
    "Call me back on {v} please.",
    "My phone number is {v}.",
    "The courier can reach me at {v} between 9 and 5.",
    "Text me at {v} when it ships",
    "You can call {v} if anything is unclear.",
]
SSN_SENTENCES = [
    "For the credit check my SSN is {v}.",
    "Social security number: {v}",
    "They asked for my social security number, it's {v}.",
    "my ssn {v}",
]
IP_SENTENCES = [
    "The login came from {v}, which is not me.",
    "Our server at {v} cannot reach your API.",
    "Blocked IP {v} after the failed attempts.",
]
NAME_SENTENCES = [
    "Hi, my name is {g} {s} and my package never arrived.",
    "This is {g} {s}, I ordered a desk lamp last week.",
    "Thanks {g}, I have updated the shipping address.",
    "Hello {g} {s}, I'm sorry to hear the blender arrived broken.",
    "The order was placed by my husband, {g} {s}.",
    "Could you please cancel the subscription for {g} {s}?",
    "Dear {g}, your refund has been processed.",
    "I spoke with {g} yesterday and she promised a replacement.",
    "Yes, the account is under {s}, first name {g}.",
    "Please ship it to {g} {s} at the office instead.",
    "Best regards, {g} {s}",
    "{g} {s} here, following up on my return.",
]

LOOKALIKES = [
    "Where is my order #W2378156? It was supposed to arrive Monday.",
    "Order #W7412093 and #W9934121 were both delayed.",
    "Your Amazon order 112-4829376-1938265 has shipped.",
    "The total was $1,234.56 including tax.",
    "I was charged €49.99 and then another €149.00.",
    "Refund of $2,380.12 will arrive in 5-7 business days.",
    "It was delivered on 2024-03-15 at 10:42.",
    "The invoice is dated 03/15/2024 and due 04/14/2024.",
    "Bestellung vom 15.03.2024, Lieferung bis 22.03.2024.",
    "Tracking number 1Z999AA10123456784 shows it in Louisville.",
    "USPS tracking 9400 1118 9922 3857 2648 37 says delivered.",
    "FedEx tracking 7745 1234 9876 is stuck in Memphis.",
    "Please ship to ZIP 94103, or 10001-2345 for the office.",
    "The product code is SKU-4821-XL, size 10.5.",
    "Model A2141 with firmware 14.2.1 keeps rebooting.",
    "The part number 0402-1187-22 is wrong on the invoice.",
    "I bought 3 items for 1,250 points on 12 March.",
    "My loyalty number is 604 on the card, member since 2019.",
    "Case 00493817 was opened at 14:05 UTC.",
    "Item 1002345678 is out of stock until week 14.",
    "Reference RMA-2024-88123 for the return.",
    "The screen is 27 inches, 2560x1440, 165Hz.",
    "Version 3.12.4 of the app crashes on launch.",
    "I called support on Tuesday and waited 45 minutes.",
    "The Visa ending in 4421 was declined.",
    "Gift card balance is $25.00, card ends 8812.",
    "Your ticket number is 2024-11-0032.",
    "Room 4B, building 12, floor 3.",
    "Temperature 21.5 C at 65% humidity, batch 7781-22.",
    "Thanks for contacting Acme Support! How can I help you today?",
    "My Samsung Galaxy S21 will not charge with the Anker cable.",
    "I paid with PayPal and Apple Pay but neither went through.",
    "Is the Dyson V11 Absolute in stock at the Berlin store?",
    "It shipped via FedEx from Memphis, Tennessee on Friday.",
    "The Nespresso Vertuo machine leaks from the bottom.",
    "Can I return the Lego Star Wars set bought at Walmart?",
    "Our Shopify storefront shows the wrong VAT for Ireland.",
    "The Kindle Paperwhite screen froze after the update.",
]


def build_cases(seed: int = 7, per_type: int = 60) -> dict[str, list[Case]]:
    """Labelled single-message cases per entity type (hard cases last), plus "LOOKALIKE" and
    "LOOKALIKE_<CATEGORY>" (brand and place names) cases with no PII."""
    rng = random.Random(seed)
    cases: dict[str, list[Case]] = {}
    for entity, values, sentences in [
        ("CREDIT_CARD", make_pans(rng, per_type * 2), CARD_SENTENCES),
        ("IBAN", make_ibans(rng, per_type * 2), IBAN_SENTENCES),
        ("EMAIL", make_emails(rng, per_type), EMAIL_SENTENCES),
        ("PHONE", make_phones(rng, per_type), PHONE_SENTENCES),
        ("US_SSN", make_ssns(rng, per_type), SSN_SENTENCES),
        ("IP_ADDRESS", make_ips(rng, per_type // 2), IP_SENTENCES),
    ]:
        cases[entity] = [
            Case(sentences[i % len(sentences)].format(v=v), ((entity, v),))
            for i, v in enumerate(values)
        ]
    cases["PERSON"] = _named_cases(rng, per_type * 2, NAME_SENTENCES, "", lower=False)
    cases["LOOKALIKE"] = [Case(text, ()) for text in LOOKALIKES]
    # The hard cases come after, from their own generator, so the sets above stay as they were.
    hard = random.Random(seed + 1)
    cases["PHONE"] += [
        Case(PHONE_SENTENCES[i % len(PHONE_SENTENCES)].format(v=v), (("PHONE", v),), "mistyped")
        for i, v in enumerate(make_mistyped_phones(hard, per_type))
    ]
    for sentences, category, lower in [
        (LOWER_FULL_NAME_SENTENCES, "lower-case full name", True),
        (GREETING_SENTENCES, "first name after greeting", False),
        (SPOKE_TO_SENTENCES, "first name after spoke-to", False),
    ]:
        cases["PERSON"] += _named_cases(hard, per_type, sentences, category, lower)
    cases |= {f"LOOKALIKE_{c.upper()}": found for c, found in brand_lookalikes().items()}
    return cases


# Scoring, shared by tests/pii/test_recall.py and benchmarks/pii.py.
PLACEHOLDER = re.compile(r"<([A-Z][A-Z_]*?)_\d+>")


def compact(text: str) -> str:
    return re.sub(r"[\s\-.()]", "", text).lower()


def recalled(case: Case, redacted: str, entity: str) -> bool:
    """Every labelled value is gone, and a placeholder of the right type took its place."""
    return f"<{entity}_" in redacted and all(value not in redacted for _, value in case.values)


def redacted_spans(original: str, redacted: str) -> list[tuple[str, str]]:
    """(entity, original text) of each placeholder in `redacted`, found by aligning the text
    between placeholders with `original`."""
    pieces = PLACEHOLDER.split(redacted)  # text, entity, text, entity, ..., text
    pattern = "".join(re.escape(p) if i % 2 == 0 else "(.+?)" for i, p in enumerate(pieces))
    match = re.fullmatch(pattern, original, re.DOTALL)
    return list(
        zip(pieces[1::2], match.groups() if match else ["?"] * len(pieces[1::2]), strict=True)
    )


def _is_value(case: Case, entity: str, span: str) -> bool:
    """A redacted span is real PII of its type: part of a labelled value of that type (for
    names: every word of the span is a labelled name part)."""
    values = [v for e, v in case.values if e == entity]
    if entity == "PERSON":
        return set(span.split()) <= {w for v in values for w in v.split()}
    return any(compact(span) and compact(span) in compact(v) for v in values)


def quality(
    cases: dict[str, list[Case]], redacted: dict[str, list[str]]
) -> dict[str, dict[str, float]]:
    """Recall per type (and per hard category, "PHONE/mistyped"), precision per type (share
    of redacted spans that are labelled PII of that type, look-alikes included) and the share
    of look-alike messages altered per look-alike set (and its held-out part)."""
    recall: dict[str, list[bool]] = {}
    spans: dict[str, list[bool]] = {}
    altered: dict[str, list[bool]] = {}
    for key, labelled in cases.items():
        for case, out in zip(labelled, redacted[key], strict=True):
            for entity, span in redacted_spans(case.text, out):
                spans.setdefault(entity, []).append(_is_value(case, entity, span))
            if key.startswith("LOOKALIKE"):
                altered.setdefault(key, []).append(out != case.text)
                if case.held_out:
                    altered.setdefault(f"{key} (held-out)", []).append(out != case.text)
                continue
            hit = recalled(case, out, key)
            recall.setdefault(key, []).append(hit)
            if case.category:
                recall.setdefault(f"{key}/{case.category}", []).append(hit)
    share = {name: sum(flags) / len(flags) for name, flags in recall.items()}
    return {
        "recall": share,
        "precision": {e: sum(flags) / len(flags) for e, flags in spans.items()},
        "altered": {name: sum(flags) / len(flags) for name, flags in altered.items()},
        "n": {name: len(flags) for name, flags in {**recall, **altered}.items()},
    }
