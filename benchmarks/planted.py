"""Planted terms: does ``GenZRegressor()`` with its defaults find the true features, and only them?

Each task is a data set as a user would have it (items with free text and attributes, a target
table), generated with a known set of binary *terms* that drive the target linearly plus noise:

=============  =======================================================================
task           what carries the signal
=============  =======================================================================
``attributes`` numeric thresholds, a category and a boolean among noise attributes
``text``       phrases only in free text, written in varied sentences, with distractor
               sentences that share words with the phrases and attributes without signal
``multi``      a 3-dimensional target; terms in attributes and in text, each target
               dimension driven by a different mix of terms
``mixed``      side inputs (two continuous covariates passed as ``U``), heavier noise,
               terms in attributes and text, many nuisance attributes
=============  =======================================================================

Further tasks (:data:`OTHER_TASKS`), written apart from those four in other domains, check that
defaults chosen on them carry over; they run only when named (``--tasks products,reviews`` or
``--tasks other`` / ``all``):

=============  =======================================================================
``products``   a shop's catalogue: a tag in a list attribute, a price band (a range), a
               set of two brands, a boolean; an identifier, noise tags (one correlated
               with the true tag) and a text that says "organic" for half the organic ones
``reviews``    restaurant reviews, text only: five exact phrases of 1-3 words at 10-25%
               prevalence in long texts whose other sentences share their words
``weak``       job postings (1200 items): five terms in attributes and text with weak
               effects (0.3-0.6) and noise sd 0.5
``many``       hotels (1000 items): eight terms (threshold, boolean, category, a threshold
               tied to the category, list member, three phrases), noise sd 0.4
=============  =======================================================================

Per task it fits ``GenZRegressor()`` with **default settings** (no tuning flags) on the
training split and prints:

* ``recall``: share of true terms matched by a *finding* (``est.findings_``: the features whose
  effect survives the error control on the untouched rows), where a feature matches a term
  when its training judgments agree with the term, or with its complement, on >= 95% of the
  training items;
* ``precision``: share of findings that match some true term (1 when there is no finding);
* ``finds``: number of findings; ``f.rec``: share of true terms matched by any of the
  predictor's features (``est.features_``); ``K``: number of the predictor's features;
* test RMSE (all target dimensions pooled) beside the oracle, ordinary least squares on the
  true terms (plus the side inputs where the task has them), and their ratio;
* seconds of the fit.

Seeds: the default ``--seeds 100-109`` are **development** seeds, the ones to look at while
choosing defaults. Numbers to report come from seeds ``0-4``, run once with the chosen
defaults and never used to choose anything.

    PYTHONPATH=src python benchmarks/planted.py                      # dev seeds 100-109
    PYTHONPATH=src python benchmarks/planted.py --seeds 0-4 --json planted.json
    PYTHONPATH=src python benchmarks/planted.py --tasks text,multi --seeds 100
    PYTHONPATH=src python benchmarks/planted.py --tasks other --seeds 100-109   # further tasks
    PYTHONPATH=src python benchmarks/planted.py --hypotheses --seeds 100-102   # user hypotheses

``--hypotheses`` gives each fit one true term and one descriptor without signal
(:data:`HYPOTHESES`) through ``GenZRegressor(hypotheses=[...])`` and prints whether each was
kept (the true one should be, the false one not); it says so when the estimator has no such
parameter.

The generator (:func:`make_task`) and the scoring (:func:`score_features`,
:func:`oracle_rmse`, :func:`run_task`) are plain functions; import this file by path
(``importlib.util.spec_from_file_location``) to reuse them. Only genz's public API is used.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from genz import GenZRegressor, Item
from genz.experiments.runner import environment, parse_seeds as _parse_seeds
from genz.tree_route import check_record, predictor_alone

TASKS = ("attributes", "text", "multi", "mixed")
#: further tasks, written apart from the four above (other domains, other structure), to check
#: that defaults chosen on :data:`TASKS` carry over; selected with ``--tasks`` (or ``all``),
#: never part of the default run
OTHER_TASKS = ("products", "reviews", "weak", "many")
ALL_TASKS = TASKS + OTHER_TASKS
#: items per data set where a task's own default differs from 800 (``--n`` overrides)
DEFAULT_N = {"weak": 1200, "many": 1000}
MATCH_AGREEMENT = 0.95

#: ``--hypotheses``: per task one true term and one descriptor that carries no signal, given to
#: ``GenZRegressor(hypotheses=[...])`` (when the estimator has that parameter). The true one
#: should be kept, the false one rejected with its evidence shown.
HYPOTHESES = {
    "attributes": ("'electric' is \"true\"", "'color' is \"red\""),
    "text": ('mentions "sea view"', 'mentions "code lock"'),
    "multi": ('mentions "wood stove"', "'agent' is \"Ana\""),
    "mixed": ('mentions "sea view"', 'mentions "morning light"'),
    "products": ("'tags' include \"organic\"", "'category' is \"snacks\""),
    "reviews": ('mentions "live music"', 'mentions "free parking"'),
    "weak": ("'remote' is \"true\"", "'contract' is \"fixed term\""),
    "many": ('mentions "airport shuttle"', "'chain' is \"independent\""),
}


@dataclass
class Task:
    """One planted data set: train/test items, targets, optional side inputs, true terms."""

    name: str
    seed: int
    train_items: list[Item]
    test_items: list[Item]
    y_train: np.ndarray  # N or N×D
    y_test: np.ndarray
    terms: list[str]  # human-readable names of the true terms
    T_train: np.ndarray  # N×M 0/1 truth of each term
    T_test: np.ndarray
    U_train: np.ndarray | None = None
    U_test: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------
# text material
# ----------------------------------------------------------------------------------------------

# For each phrase term: sentences that contain the exact phrase in different positions/forms.
_PHRASE_SENTENCES: dict[str, list[str]] = {
    "sea view": [
        "The living room has a sea view.",
        "Enjoy the sea view from the balcony every morning.",
        "A sea view is what sold it to the last tenants.",
        "Both bedrooms share the same sea view.",
        "You wake up to a sea view.",
    ],
    "recently renovated": [
        "The kitchen was recently renovated.",
        "Recently renovated bathroom with new tiles.",
        "The whole flat has been recently renovated by the owner.",
        "It was recently renovated and feels new.",
    ],
    "noisy street": [
        "It sits on a noisy street.",
        "The noisy street can be heard at night.",
        "Be aware: a noisy street runs past the front windows.",
        "Windows face a noisy street.",
    ],
    "pets allowed": [
        "Pets allowed.",
        "Good news for owners of cats and dogs: pets allowed.",
        "Small pets allowed on request.",
        "The landlord says pets allowed, within reason.",
    ],
    "wood stove": [
        "A wood stove heats the lounge in winter.",
        "There is an old wood stove in the corner.",
        "The wood stove works well.",
        "Evenings by the wood stove are cosy.",
    ],
    "shared laundry": [
        "There is a shared laundry in the basement.",
        "Tenants use a shared laundry downstairs.",
        "The shared laundry is open until ten.",
        "A shared laundry is available to all flats.",
    ],
}

# Sentences without signal; several share words with the phrases above ("sea", "view",
# "street", "renovated", "pets", "stove", "laundry") so that single words are not enough.
_DISTRACTORS: list[str] = [
    "The beach and the sea are a short drive away.",
    "There is a view of the park from the hallway.",
    "The street is lined with old trees.",
    "The building's lobby was renovated years ago.",
    "Parking is available nearby.",
    "The flat is bright and quiet in the afternoon.",
    "Public transport stops close by.",
    "The neighbours are friendly.",
    "Shops and cafes are within walking distance.",
    "The gas stove is included.",
    "A laundry service picks up on Mondays.",
    "No smoking inside, please.",
    "The floors are wooden throughout.",
    "Storage space is generous.",
    "The heating is central.",
    "A small garden is behind the building.",
    "The entrance has a code lock.",
    "Internet is fast and reliable.",
    "The rooms get morning light.",
    "The landlord lives nearby and answers quickly.",
    "Cats and dogs live in the neighbourhood.",
    "Viewings are possible on weekends.",
]

_CITIES = ["Lisbon", "Porto", "Braga", "Faro", "Coimbra", "Aveiro", "Evora", "Setubal"]
_AGENTS = ["Ana", "Bruno", "Carla", "Diogo", "Elsa", "Filipe", "Gloria"]
_COLORS = ["red", "blue", "green", "black", "white", "silver", "yellow", "grey"]
_MATERIALS = ["steel", "aluminium", "carbon", "titanium", "wood"]


def _text(rng: np.random.Generator, phrases: list[str]) -> str:
    """A listing text: 2-4 distractor sentences plus one sentence per phrase, shuffled."""
    sentences = list(rng.choice(_DISTRACTORS, size=int(rng.integers(2, 5)), replace=False))
    for p in phrases:
        pool = _PHRASE_SENTENCES[p]
        sentences.append(pool[int(rng.integers(len(pool)))])
    order = rng.permutation(len(sentences))
    return " ".join(sentences[i] for i in order)


def _split(n: int, rng: np.random.Generator, test_share: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    perm = rng.permutation(n)
    n_test = int(round(test_share * n))
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


# ----------------------------------------------------------------------------------------------
# generators (one per task)
# ----------------------------------------------------------------------------------------------

def _attributes(rng: np.random.Generator, n: int) -> tuple[list[dict], list[str], list[str], np.ndarray]:
    """Bikes: signal in a numeric threshold, a category, a boolean and a numeric range."""
    weight = np.round(rng.uniform(6, 16, n), 1)
    year = rng.integers(2005, 2025, n)
    color = rng.choice(_COLORS, n)
    material = rng.choice(_MATERIALS, n)
    electric = rng.random(n) < 0.35
    gears = rng.choice([1, 3, 7, 11, 18, 21, 24], n)
    wheel = rng.choice([20, 24, 26, 27.5, 29], n)
    city = rng.choice(_CITIES, n)
    T = np.column_stack([
        year >= 2018,  # numeric threshold
        material == "carbon",  # category
        electric,  # boolean
        weight < 9.0,  # numeric threshold (below)
    ]).astype(int)
    names = ["'year' is at least 2018", "'material' is \"carbon\"", "'electric' is \"true\"", "'weight_kg' is below 9"]
    texts = []
    attrs = []
    for i in range(n):
        attrs.append({
            "weight_kg": float(weight[i]), "year": int(year[i]), "color": str(color[i]),
            "material": str(material[i]), "electric": bool(electric[i]), "gears": int(gears[i]),
            "wheel_inches": float(wheel[i]), "city": str(city[i]),
        })
        texts.append(f"A {color[i]} {material[i]} bike from {year[i]}, listed in {city[i]}.")
    return attrs, texts, names, T


def _text_task(rng: np.random.Generator, n: int, phrases: list[str],
               rates: list[float]) -> tuple[list[dict], list[str], list[str], np.ndarray]:
    """Listings: signal only in phrases of the free text; attributes carry no signal."""
    T = np.column_stack([rng.random(n) < r for r in rates]).astype(int)
    texts, attrs = [], []
    for i in range(n):
        texts.append(_text(rng, [p for j, p in enumerate(phrases) if T[i, j]]))
        attrs.append({
            "floor": int(rng.integers(0, 9)), "agent": str(rng.choice(_AGENTS)),
            "city": str(rng.choice(_CITIES)), "rooms": int(rng.integers(1, 5)),
        })
    names = [f'mentions "{p}"' for p in phrases]
    return attrs, texts, names, T


# ----------------------------------------------------------------------------------------------
# further tasks (OTHER_TASKS): other domains and structure, written apart from the ones above
# ----------------------------------------------------------------------------------------------

def _compose(rng: np.random.Generator, distractors: list[str], pools: dict[str, list[str]],
             phrases: list[str], lo: int, hi: int, lead: str | None = None) -> str:
    """A text of ``lo``-``hi`` distractor sentences and one sentence per phrase (from its
    pool), shuffled, after an optional ``lead`` sentence."""
    sentences = list(rng.choice(distractors, size=int(rng.integers(lo, hi + 1)), replace=False))
    for p in phrases:
        pool = pools[p]
        sentences.append(pool[int(rng.integers(len(pool)))])
    order = rng.permutation(len(sentences))
    body = " ".join(sentences[i] for i in order)
    return body if lead is None else f"{lead} {body}"


def _code(rng: np.random.Generator, prefix: str, n: int) -> list[str]:
    """Identifier-like strings, distinct per item (``SKU-40913-KX``)."""
    nums = rng.choice(90000, size=n, replace=False) + 10000
    letters = rng.choice(list("ABCDEFGHJKLMNPQRSTUVWXYZ"), size=(n, 2))
    return [f"{prefix}-{nums[i]}-{letters[i, 0]}{letters[i, 1]}" for i in range(n)]


_P_BRANDS = ["Nordvik", "Alpina", "Kestrel", "Orla", "Brisa", "Tamsin", "Vega", "Quill"]
_P_BRAND_P = [0.18, 0.16, 0.13, 0.12, 0.12, 0.11, 0.10, 0.08]
_P_PRODUCTS = {
    "pantry": ["olive oil", "pasta", "basmati rice", "wholemeal flour", "wildflower honey", "peanut butter"],
    "snacks": ["crackers", "granola bars", "trail mix", "rice cakes", "dark chocolate"],
    "beverages": ["green tea", "coffee beans", "apple juice", "oat drink", "herbal infusion"],
    "personal care": ["shampoo", "soap bar", "hand lotion", "toothpaste", "lip balm"],
    "household": ["dish soap", "laundry liquid", "kitchen sponges", "glass cleaner"],
    "baby": ["baby wipes", "fruit pouches", "nappy cream", "baby porridge"],
}
_P_SIZES = ["100 g", "250 g", "500 g", "1 kg", "330 ml", "500 ml", "1 l", "pack of 6", "pack of 12"]
_P_NOISE_TAGS = ["gift idea", "bestseller", "new", "sale", "vegan", "gluten-free", "handmade", "imported",
                 "limited edition", "bundle", "local", "fair trade", "family size"]
_P_SENTENCES = [
    "Store in a cool, dry place.", "Resealable pack keeps it fresh.", "A customer favourite for years.",
    "Made in small batches.", "Recyclable packaging.", "Suitable for everyday use.",
    "Our buyers tasted dozens before choosing this one.", "Best before date printed on the side.",
    "Ships in plain packaging.", "Pairs well with fresh bread.", "Gentle enough for the whole family.",
    "Refill packs sold separately.", "Part of our everyday range.", "Ideal as a gift.",
    "Free of artificial colours.", "Price per unit shown at checkout.", "Shipping times vary by region.",
]
_P_ORGANIC = ["Certified organic.", "Made from organic ingredients.", "Grown on organic farms."]
_P_COUNTRIES = ["PT", "ES", "FR", "DE", "IT", "NL", "BE", "PL"]


def _products(rng: np.random.Generator, n: int) -> tuple[list[dict], list[str], list[str], np.ndarray]:
    """A shop's catalogue: a tag in a list attribute, a price band (a range, not a threshold),
    a set of two brands and a boolean, among an identifier, a noise list and other attributes."""
    brand = rng.choice(_P_BRANDS, n, p=_P_BRAND_P)
    category = rng.choice(list(_P_PRODUCTS), n, p=[0.25, 0.2, 0.2, 0.15, 0.12, 0.08])
    price = np.maximum(1.0, np.round(np.exp(rng.uniform(np.log(4), np.log(150), n)))) - 0.01
    organic = rng.random(n) < 0.3
    free_ship = rng.random(n) < 0.4
    sku = _code(rng, "SKU", n)
    T = np.column_stack([organic, (price >= 20) & (price <= 40), np.isin(brand, ["Kestrel", "Orla"]),
                         free_ship]).astype(int)
    names = ["'tags' include \"organic\"", "'price' is between 20 and 40",
             "'brand' is one of [\"Kestrel\", \"Orla\"]", "'free_shipping' is \"true\""]
    attrs, texts = [], []
    for i in range(n):
        tags = rng.choice(_P_NOISE_TAGS, size=int(rng.integers(0, 4)), replace=False).tolist()
        if organic[i]:
            tags.insert(int(rng.integers(len(tags) + 1)), "organic")
        if rng.random() < (0.5 if organic[i] else 0.12):  # a tag that comes with "organic" more often
            tags.append("eco-friendly")
        product = str(rng.choice(_P_PRODUCTS[str(category[i])]))
        attrs.append({
            "sku": sku[i], "brand": str(brand[i]), "category": str(category[i]), "price": float(price[i]),
            "tags": tags, "free_shipping": bool(free_ship[i]),
            "rating": float(np.round(rng.uniform(2.5, 5.0), 1)), "n_reviews": int(rng.geometric(0.01)),
            "weight_g": int(rng.integers(50, 2500)), "seller_country": str(rng.choice(_P_COUNTRIES)),
            "ships_to": sorted(rng.choice(_P_COUNTRIES, size=int(rng.integers(1, 5)), replace=False).tolist()),
            "listed_days": int(rng.integers(1, 900)),
        })
        extra = []
        if organic[i] and rng.random() < 0.5:  # the text says so for half of the organic products
            extra.append(_P_ORGANIC[int(rng.integers(len(_P_ORGANIC)))])
        elif not organic[i] and rng.random() < 0.04:
            extra.append("Try it with organic honey.")
        lead = f"{brand[i]} {product}, {rng.choice(_P_SIZES)}."
        body = list(rng.choice(_P_SENTENCES, size=int(rng.integers(1, 4)), replace=False)) + extra
        texts.append(" ".join([lead] + [body[j] for j in rng.permutation(len(body))]))
    return attrs, texts, names, T


_R_PHRASES: dict[str, list[str]] = {
    "overpriced": [
        "Honestly it felt overpriced for what you get.", "Overpriced drinks, though the food was fine.",
        "A bit overpriced, but we would return.", "The wine list is overpriced.",
        "Everything on the dessert menu was overpriced.",
    ],
    "rude": [
        "Our waiter was rude and rushed us.", "The host was rude when we asked for another table.",
        "Rude staff at the bar.", "One server was quite rude to the family next to us.",
    ],
    "worth the wait": [
        "The queue was long but it was worth the wait.", "Worth the wait, every single time.",
        "Our mains took forty minutes and were worth the wait.", "If there is a line, trust me, it is worth the wait.",
    ],
    "live music": [
        "There was live music on Friday night.", "Live music made the evening special.",
        "They have live music most weekends.", "We enjoyed the live music from the terrace.",
    ],
    "gluten free options": [
        "Plenty of gluten free options for my partner.", "Gluten free options are clearly marked on the menu.",
        "They offer gluten free options for most dishes.", "Great to see real gluten free options.",
    ],
}
# many share words with the phrases ("prices", "wait", "worth", "music", "live", "free",
# "options", "gluten", "staff", "waiter", "host") without containing one
_R_DISTRACTORS = [
    "The prices were fair for the portion size.", "Prices are a little high but the quality shows.",
    "The wait for a table was about ten minutes.", "We did not have to wait at all.",
    "Worth a visit if you are in the area.", "The tasting menu is worth trying.",
    "The music was a bit too loud for conversation.", "Background music was pleasant.",
    "We live nearby and come here often.", "Free parking is available behind the restaurant.",
    "Lots of vegetarian options on the menu.", "The menu has options for kids.",
    "The sourdough is not for anyone avoiding gluten.", "Free refills on coffee.",
    "The staff were friendly and attentive.", "Service was slow on a busy Saturday.",
    "The waiter recommended a great wine.", "The host greeted us warmly.",
    "The terrace is lovely in summer.", "Portions are generous.", "The dessert was the highlight.",
    "The bar serves good cocktails.", "Booking ahead is a good idea.", "The room was crowded and warm.",
    "The fish was perfectly cooked.", "The pasta was a little salty.", "We came for a birthday dinner.",
    "The wine list is long.", "The dessert menu changes weekly.", "Our server was new but tried hard.",
    "Kids are welcome.", "It is a family run place.", "Tables are close together.",
    "The table by the window has the best light.", "Would come back for the soup alone.",
    "Cash only on weekends.", "Friday nights get busy.", "The staff at the bar were quick.",
    "Nothing special, but solid.", "The bill came quickly.",
]
_R_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
             "October", "November", "December"]


def _reviews(rng: np.random.Generator, n: int) -> tuple[list[dict], list[str], list[str], np.ndarray]:
    """Restaurant reviews: five exact phrases of 1-3 words at 10-25% prevalence in longer texts
    full of sentences that share their words; the attributes carry no signal."""
    phrases = ["overpriced", "rude", "worth the wait", "live music", "gluten free options"]
    T = np.column_stack([rng.random(n) < r for r in (0.2, 0.1, 0.15, 0.25, 0.12)]).astype(int)
    attrs, texts = [], []
    for i in range(n):
        lead = f"Visited in {rng.choice(_R_MONTHS)}." if rng.random() < 0.4 else None
        texts.append(_compose(rng, _R_DISTRACTORS, _R_PHRASES, [p for j, p in enumerate(phrases) if T[i, j]],
                              3, 7, lead))
        attrs.append({
            "city": str(rng.choice(_CITIES)), "party_size": int(rng.integers(1, 9)),
            "reviewer_reviews": int(rng.geometric(0.05)), "visit_weekday": str(rng.choice(
                ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])),
        })
    return attrs, texts, [f'mentions "{p}"' for p in phrases], T


_J_ROLES = ["data engineer", "backend developer", "product designer", "site reliability engineer",
            "mobile developer", "analyst", "QA engineer", "frontend developer"]
_J_INDUSTRIES = ["fintech", "retail", "health", "logistics", "media", "energy", "public sector"]
_J_LANGS = ["Python", "Go", "Java", "Kotlin", "TypeScript", "Rust", "SQL", "Scala"]
_J_PHRASES = {
    "equity": ["Competitive salary and equity.", "Equity for early hires.", "We offer meaningful equity.",
               "The package includes equity that vests over four years."],
    "on call rotation": ["You will join the on call rotation once a month.", "There is a light on call rotation.",
                         "A shared on call rotation with two other teams.",
                         "Expect an on call rotation every six weeks."],
}
_J_DISTRACTORS = [
    "Our support team is on call around the clock.", "Calls with customers are rare.",
    "Team rotation between projects happens yearly.", "The first step is a short phone call.",
    "We value diversity and equal pay.", "Salary is reviewed every year.", "Hybrid work is possible.",
    "You will work closely with product managers.", "We use modern tooling and code review.",
    "Learning budget of one thousand euros.", "Flexible hours.", "Our office is near the station.",
    "The team ships every week.", "Good English is required.", "Relocation support is available.",
    "We care about testing.", "You will mentor junior colleagues.", "Lunch is provided on Fridays.",
    "Health insurance for the whole family.", "Twenty five days of holiday.",
]


def _weak(rng: np.random.Generator, n: int) -> tuple[list[dict], list[str], list[str], np.ndarray]:
    """Job postings: a boolean, a numeric threshold, a category and two phrases (one of three
    words, with a distractor sharing two of them), for weak effects."""
    remote = rng.random(n) < 0.35
    company = np.round(np.exp(rng.uniform(np.log(5), np.log(5000), n))).astype(int)
    industry = rng.choice(_J_INDUSTRIES, n, p=[0.2, 0.16, 0.16, 0.14, 0.12, 0.12, 0.1])
    equity = rng.random(n) < 0.3
    oncall = rng.random(n) < 0.25
    pid = _code(rng, "JOB", n)
    T = np.column_stack([remote, company < 50, industry == "fintech", equity, oncall]).astype(int)
    names = ["'remote' is \"true\"", "'company_size' is below 50", "'industry' is \"fintech\"",
             'mentions "equity"', 'mentions "on call rotation"']
    attrs, texts = [], []
    for i in range(n):
        seniority = str(rng.choice(["Junior", "Mid-level", "Senior", "Lead"], p=[0.2, 0.35, 0.35, 0.1]))
        city = str(rng.choice(_CITIES))
        lead = f"{seniority} {rng.choice(_J_ROLES)} in {city}."
        said = [p for p, on in (("equity", equity[i]), ("on call rotation", oncall[i])) if on]
        texts.append(_compose(rng, _J_DISTRACTORS, _J_PHRASES, said, 2, 5, lead))
        attrs.append({
            "posting_id": pid[i], "remote": bool(remote[i]), "company_size": int(company[i]),
            "industry": str(industry[i]), "city": city, "seniority": seniority.lower(),
            "years_experience": int(rng.integers(0, 11)),
            "languages": sorted(rng.choice(_J_LANGS, size=int(rng.integers(1, 4)), replace=False).tolist()),
            "contract": str(rng.choice(["permanent", "fixed term", "freelance"], p=[0.6, 0.25, 0.15])),
            "posted_days_ago": int(rng.integers(0, 60)),
        })
    return attrs, texts, names, T


_H_DISTRICTS = ["Old Town", "Riverside", "Harbour", "University", "Station", "Hillside"]
_H_AMENITIES = ["wifi", "gym", "pool", "parking", "restaurant", "laundry", "pet friendly", "sauna", "bar"]
_H_CHAINS = ["independent", "Stayline", "Corvo Hotels", "Maris Group", "Urbano"]
_H_PHRASES = {
    "rooftop bar": ["The rooftop bar has views over the whole city.", "Drinks at the rooftop bar until midnight.",
                    "A rooftop bar opens in the warmer months.", "Guests rave about the rooftop bar."],
    "thin walls": ["Some guests mention thin walls between rooms.", "Thin walls, so bring earplugs.",
                   "The rooms are comfortable despite thin walls.", "Light sleepers may notice the thin walls."],
    "airport shuttle": ["A free airport shuttle leaves every hour.", "The airport shuttle can be booked at reception.",
                        "There is an airport shuttle in the early morning.", "Airport shuttle on request."],
}
_H_DISTRACTORS = [
    "The bar in the lobby stays open late.", "Walls are decorated with local art.",
    "The airport is forty minutes away by train.", "A shuttle to the beach runs in summer.",
    "The rooftop has a view of the river.", "Thin curtains let in the morning sun.",
    "Rooms were refurbished recently.", "Reception is open day and night.", "Check in from three in the afternoon.",
    "The breakfast room is on the ground floor.", "Bikes can be rented at the front desk.",
    "Quiet rooms face the courtyard.", "The beds are large and firm.", "Towels are changed daily.",
    "Staff speak several languages.", "A supermarket is across the street.", "Lifts serve every floor.",
    "Family rooms sleep four.", "The city centre is easy to reach by tram.", "Luggage storage is free.",
]


def _many(rng: np.random.Generator, n: int) -> tuple[list[dict], list[str], list[str], np.ndarray]:
    """Hotels: eight terms — a threshold, a boolean, a category, a threshold below (related to
    the category), a list member, three phrases — among nuisance attributes."""
    stars = rng.choice([1, 2, 3, 4, 5], n, p=[0.1, 0.2, 0.35, 0.25, 0.1])
    breakfast = rng.random(n) < 0.4
    district = rng.choice(_H_DISTRICTS, n, p=[0.2, 0.2, 0.15, 0.15, 0.15, 0.15])
    dist = np.round(rng.exponential(np.where(district == "Old Town", 1.2, 2.8)), 1)
    spa = rng.random(n) < 0.2
    ph = {p: rng.random(n) < r for p, r in (("rooftop bar", 0.2), ("thin walls", 0.15), ("airport shuttle", 0.25))}
    hid = _code(rng, "H", n)
    T = np.column_stack([stars >= 4, breakfast, district == "Old Town", dist < 1.5, spa]
                        + list(ph.values())).astype(int)
    names = ["'stars' is at least 4", "'breakfast_included' is \"true\"", "'district' is \"Old Town\"",
             "'distance_km' is below 1.5", "'amenities' include \"spa\""] + [f'mentions "{p}"' for p in ph]
    attrs, texts = [], []
    for i in range(n):
        am = rng.choice(_H_AMENITIES, size=int(rng.integers(1, 6)), replace=False).tolist()
        if spa[i]:
            am.insert(int(rng.integers(len(am) + 1)), "spa")
        chain = str(rng.choice(_H_CHAINS, p=[0.4, 0.15, 0.15, 0.15, 0.15]))
        lead = f"A {stars[i]}-star {'hotel' if rng.random() < 0.7 else 'guesthouse'} in {district[i]}."
        texts.append(_compose(rng, _H_DISTRACTORS, _H_PHRASES, [p for p in ph if ph[p][i]], 2, 5, lead))
        attrs.append({
            "hotel_id": hid[i], "stars": int(stars[i]), "breakfast_included": bool(breakfast[i]),
            "district": str(district[i]), "distance_km": float(dist[i]), "amenities": am, "chain": chain,
            "rooms": int(rng.integers(8, 400)), "year_built": int(rng.integers(1890, 2023)),
            "languages": sorted(rng.choice(["en", "pt", "es", "fr", "de"], size=int(rng.integers(1, 4)),
                                           replace=False).tolist()),
        })
    return attrs, texts, names, T


#: per further task: generator, effect magnitudes (low, high), noise sd
_OTHER = {
    "products": (_products, (0.5, 1.5), 0.3),
    "reviews": (_reviews, (0.5, 1.5), 0.3),
    "weak": (_weak, (0.3, 0.6), 0.5),
    "many": (_many, (0.5, 1.5), 0.4),
}


def _make_other(name: str, seed: int, n: int, test_share: float) -> Task:
    """A task of :data:`OTHER_TASKS`: ``y = 2 + T w + noise``, effects of the task's magnitudes
    with random signs, from a random stream of its own (``[seed, 100 + index]``)."""
    rng = np.random.default_rng([seed, 100 + OTHER_TASKS.index(name)])
    gen, (lo, hi), noise = _OTHER[name]
    attrs, texts, terms, T = gen(rng, n)
    W = rng.uniform(lo, hi, size=(T.shape[1], 1)) * rng.choice([-1, 1], size=(T.shape[1], 1))
    y = 2.0 + (T @ W)[:, 0] + rng.normal(scale=noise, size=n)
    items = [Item(id=f"{name}-{seed}-{i}", text=texts[i], attributes=attrs[i]) for i in range(n)]
    tr, te = _split(n, rng, test_share)
    return Task(
        name=name, seed=seed, train_items=[items[i] for i in tr], test_items=[items[i] for i in te],
        y_train=y[tr], y_test=y[te], terms=terms, T_train=T[tr], T_test=T[te],
        meta={"noise_sd": noise, "W": W.tolist(), "D": 1, "n": n},
    )


def make_task(name: str, seed: int, n: int | None = None, test_share: float = 0.25) -> Task:
    """Generate the planted data set ``name`` (one of :data:`TASKS` or :data:`OTHER_TASKS`)
    with ``n`` items (default 800, or the task's :data:`DEFAULT_N`) for ``seed``.

    The target is ``y = c + T W + (U V) + noise`` with the terms ``T`` (0/1), effects of
    magnitude 0.5-1.5 (``weak``: 0.3-0.6) with random signs, and Gaussian noise; train/test
    split by ``seed``.
    """
    if name not in ALL_TASKS:
        raise ValueError(f"unknown task {name!r}; choose from {', '.join(ALL_TASKS)}")
    if n is None:
        n = DEFAULT_N.get(name, 800)
    if name in OTHER_TASKS:
        return _make_other(name, seed, n, test_share)
    rng = np.random.default_rng([seed, TASKS.index(name)])
    U = None
    V = None
    D = 1
    noise = 0.3
    if name == "attributes":
        attrs, texts, terms, T = _attributes(rng, n)
    elif name == "text":
        phrases = ["sea view", "recently renovated", "noisy street", "pets allowed"]
        attrs, texts, terms, T = _text_task(rng, n, phrases, [0.3, 0.4, 0.25, 0.35])
    elif name == "multi":
        a_attrs, a_texts, a_terms, a_T = _attributes(rng, n)
        phrases = ["wood stove", "shared laundry"]
        t_attrs, t_texts, t_terms, t_T = _text_task(rng, n, phrases, [0.3, 0.4])
        attrs = [{k: v for k, v in a.items() if k in ("year", "material", "color", "weight_kg")}
                 | {"floor": t["floor"], "agent": t["agent"]} for a, t in zip(a_attrs, t_attrs)]
        texts = [f"{ta} {tt}" for ta, tt in zip(a_texts, t_texts)]
        keep = [0, 1]  # year >= 2018, carbon
        terms = [a_terms[k] for k in keep] + t_terms
        T = np.column_stack([a_T[:, keep], t_T])
        D = 3
    else:  # mixed
        a_attrs, a_texts, a_terms, a_T = _attributes(rng, n)
        phrases = ["sea view", "wood stove"]
        t_attrs, t_texts, t_terms, t_T = _text_task(rng, n, phrases, [0.3, 0.35])
        attrs = [a | {"floor": t["floor"], "agent": t["agent"], "rooms": t["rooms"]}
                 for a, t in zip(a_attrs, t_attrs)]
        texts = [f"{ta} {tt}" for ta, tt in zip(a_texts, t_texts)]
        keep = [1, 2]  # carbon, electric
        terms = [a_terms[k] for k in keep] + t_terms
        T = np.column_stack([a_T[:, keep], t_T])
        U = rng.normal(size=(n, 2))
        V = rng.uniform(0.5, 1.0, size=(2, D)) * rng.choice([-1, 1], size=(2, D))
        noise = 0.5
    M = T.shape[1]
    W = rng.uniform(0.5, 1.5, size=(M, D)) * rng.choice([-1, 1], size=(M, D))
    if name == "multi":  # each dimension driven by a different subset of the terms
        mask = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0], [0, 1, 1]])[:M]
        W = W * mask
    Y = 2.0 + T @ W + rng.normal(scale=noise, size=(n, D))
    if U is not None:
        Y = Y + U @ V
    items = [Item(id=f"{name}-{seed}-{i}", text=texts[i], attributes=attrs[i]) for i in range(n)]
    tr, te = _split(n, rng, test_share)
    y = Y[:, 0] if D == 1 else Y
    return Task(
        name=name, seed=seed,
        train_items=[items[i] for i in tr], test_items=[items[i] for i in te],
        y_train=y[tr], y_test=y[te], terms=terms, T_train=T[tr], T_test=T[te],
        U_train=None if U is None else U[tr], U_test=None if U is None else U[te],
        meta={"noise_sd": noise, "W": W.tolist(), "D": D, "n": n},
    )


# ----------------------------------------------------------------------------------------------
# scoring
# ----------------------------------------------------------------------------------------------

def agreement(B: np.ndarray, T: np.ndarray) -> np.ndarray:
    """K×M: share of items on which feature k agrees with term m or with its complement."""
    B = np.asarray(B, dtype=float)
    T = np.asarray(T, dtype=float)
    if B.shape[1] == 0:
        return np.zeros((0, T.shape[1]))
    same = (B.T @ T + (1 - B).T @ (1 - T)) / B.shape[0]
    return np.maximum(same, 1 - same)


def score_features(B: np.ndarray, T: np.ndarray, threshold: float = MATCH_AGREEMENT) -> dict[str, Any]:
    """Recall, precision and the matching of learned features (columns of B) to true terms."""
    A = agreement(B, T)
    match = A >= threshold
    K, M = A.shape
    return {
        "recall": float(match.any(axis=0).mean()) if M else 1.0,
        "precision": float(match.any(axis=1).mean()) if K else 0.0,
        "K": int(K),
        "term_found": [bool(v) for v in match.any(axis=0)] if K else [False] * M,
        "feature_term": [int(np.argmax(A[k])) if match[k].any() else None for k in range(K)],
    }


def _ols(X_tr: np.ndarray, Y_tr: np.ndarray, X_te: np.ndarray) -> np.ndarray:
    A = np.hstack([np.ones((len(X_tr), 1)), X_tr])
    B = np.hstack([np.ones((len(X_te), 1)), X_te])
    coef, *_ = np.linalg.lstsq(A, Y_tr, rcond=None)
    return B @ coef


def rmse(y: np.ndarray, p: np.ndarray) -> float:
    """Root mean squared error over all items and target dimensions."""
    return float(np.sqrt(np.mean((np.asarray(y, float) - np.asarray(p, float)) ** 2)))


def oracle_rmse(task: Task) -> float:
    """Test RMSE of OLS on the true terms (and the side inputs, where the task has them)."""
    Xtr, Xte = task.T_train.astype(float), task.T_test.astype(float)
    if task.U_train is not None:
        Xtr, Xte = np.hstack([Xtr, task.U_train]), np.hstack([Xte, task.U_test])
    return rmse(task.y_test, _ols(Xtr, task.y_train, Xte))


def _accepts(cls: Any, name: str) -> bool:
    import inspect

    try:
        return name in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False


def _hypothesis_evidence(est: Any, descriptor: str) -> dict[str, Any]:
    """Was ``descriptor`` kept, and what does the estimator say about it (feature table row
    or the hypotheses report, whichever the estimator offers)?"""
    kept = descriptor in [str(f) for f in est.features_]
    out: dict[str, Any] = {"descriptor": descriptor, "kept": kept}
    for attr in ("hypotheses_", "hypothesis_report_"):
        rep = getattr(est, attr, None)
        if rep is not None:
            try:
                out["evidence"] = json.loads(json.dumps(rep, default=str))
            except (TypeError, ValueError):
                out["evidence"] = str(rep)
            break
    return out


def run_task(task: Task, make_estimator: Callable[..., Any] = GenZRegressor,
             hypotheses: bool = False, params: dict | None = None) -> dict[str, Any]:
    """Fit the estimator (defaults) on the training split and score it. With ``hypotheses``
    (and an estimator that takes ``hypotheses=``), also pass the task's true and false
    hypotheses (:data:`HYPOTHESES`) and record whether each was kept."""
    hyps = HYPOTHESES[task.name] if hypotheses and _accepts(make_estimator, "hypotheses") else None
    # random_state=None (the default) draws the estimator's seed from NumPy's global state, as
    # scikit-learn does: seed that state per task so that a rerun measures the same fits
    np.random.seed(task.seed)
    est = make_estimator(hypotheses=list(hyps), **(params or {})) if hyps else make_estimator(**(params or {}))
    t0 = time.perf_counter()
    if task.U_train is None:
        est.fit(task.train_items, task.y_train)
    else:
        est.fit(task.train_items, task.y_train, U=task.U_train)
    seconds = time.perf_counter() - t0
    features = [str(f) for f in est.features_]
    B = est.transform(task.train_items) if features else np.zeros((len(task.train_items), 0))
    sc = score_features(B, task.T_train)
    findings = [str(f) for f in getattr(est, "findings_", [])]
    fsc = score_features(B[:, [features.index(f) for f in findings]], task.T_train)
    pred = est.predict(task.test_items) if task.U_test is None else est.predict(task.test_items, U=task.U_test)
    r = rmse(task.y_test, pred)
    o = oracle_rmse(task)
    trees = check_record(est)
    if trees and trees["route"]:  # the same fit's predictor without the trees' blend
        alone = predictor_alone(est)
        trees["rmse_without"] = rmse(task.y_test, alone.predict(task.test_items) if task.U_test is None else
                                     alone.predict(task.test_items, U=task.U_test))
    hyp = None
    if hypotheses:
        hyp = ({"supported": False} if hyps is None else
               {"supported": True, "true": _hypothesis_evidence(est, hyps[0]), "false": _hypothesis_evidence(est, hyps[1])})
    return {
        "hypotheses": hyp,
        "task": task.name, "seed": task.seed,
        "recall": fsc["recall"], "precision": fsc["precision"] if findings else 1.0, "n_findings": len(findings),
        "feature_recall": sc["recall"], "feature_precision": sc["precision"],
        "K": sc["K"], "rmse": r, "oracle_rmse": o, "ratio": r / o, "seconds": seconds,
        "findings": findings, "finding_term": fsc["feature_term"],
        "terms": task.terms, "term_found": sc["term_found"], "features": features,
        "feature_term": sc["feature_term"], "zero_shot": getattr(est, "baseline_", None),
        "numbers_check": getattr(est, "numbers_check_", None),
        "text_check": getattr(est, "text_check_", None),
        "tree_route": trees,
    }


# ----------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------

def parse_seeds(spec: str) -> list[int]:
    """``"0-4"`` → [0..4]; ``"1,3,7"``; ``"100-109"``; ``dev`` (100-109); ``report`` (0-4)."""
    return _parse_seeds(spec)


def parse_tasks(spec: str) -> list[str]:
    """``"text,multi"``; ``"all"`` (:data:`ALL_TASKS`); ``"other"`` (:data:`OTHER_TASKS`)."""
    out: list[str] = []
    for part in spec.split(","):
        part = part.strip()
        names = ALL_TASKS if part == "all" else OTHER_TASKS if part == "other" else (part,) if part else ()
        for name in names:
            if name not in ALL_TASKS:
                raise SystemExit(f"unknown task {name!r}; choose from {', '.join(ALL_TASKS)}, other, all")
            if name not in out:
                out.append(name)
    return out


def summarize(results: list[dict]) -> list[dict]:
    """Mean per task over seeds (and the worst seed's recall/precision/ratio)."""
    rows = []
    for name in dict.fromkeys(r["task"] for r in results):
        rs = [r for r in results if r["task"] == name]
        rows.append({
            "task": name, "seeds": len(rs),
            "recall": float(np.mean([r["recall"] for r in rs])),
            "precision": float(np.mean([r["precision"] for r in rs])),
            "n_findings": float(np.mean([r["n_findings"] for r in rs])),
            "feature_recall": float(np.mean([r["feature_recall"] for r in rs])),
            "K": float(np.mean([r["K"] for r in rs])),
            "rmse": float(np.mean([r["rmse"] for r in rs])),
            "oracle_rmse": float(np.mean([r["oracle_rmse"] for r in rs])),
            "ratio": float(np.mean([r["ratio"] for r in rs])),
            "min_recall": float(min(r["recall"] for r in rs)),
            "min_precision": float(min(r["precision"] for r in rs)),
            "max_ratio": float(max(r["ratio"] for r in rs)),
            "seconds": float(np.mean([r["seconds"] for r in rs])),
        })
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="100-109",
                    help="development seeds 100-109 by default; report seeds 0-4 (never tune on them)")
    ap.add_argument("--tasks", default=",".join(TASKS),
                    help=f"comma-separated tasks: {','.join(TASKS)} (the default), further ones "
                         f"{','.join(OTHER_TASKS)}, 'other' for those, 'all' for both")
    ap.add_argument("--n", type=int, default=None,
                    help="items per data set (train + test); default 800, weak 1200, many 1000")
    ap.add_argument("--json", dest="json_path", default=None, help="write all per-seed results to this file")
    ap.add_argument("--show-features", action="store_true",
                    help="print the learned features per fit (F: a finding; *: matches a true term)")
    ap.add_argument("--params", default=None,
                    help="JSON of GenZRegressor parameters (development only: the reported numbers use the defaults)")
    ap.add_argument("--hypotheses", action="store_true",
                    help="also give one true and one false hypothesis per task (GenZRegressor(hypotheses=...)) "
                         "and report whether each was kept")
    args = ap.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    tasks = parse_tasks(args.tasks)
    results = []
    print(f"{'task':<11} {'seed':>4} {'recall':>6} {'prec':>5} {'finds':>5} {'f.rec':>5} {'K':>3} {'rmse':>7} "
          f"{'oracle':>7} {'ratio':>6} {'sec':>6}")
    for seed in seeds:
        for name in tasks:
            task = make_task(name, seed, n=args.n)
            r = run_task(task, hypotheses=args.hypotheses, params=json.loads(args.params) if args.params else None)
            results.append(r)
            print(f"{name:<11} {seed:>4} {r['recall']:>6.2f} {r['precision']:>5.2f} {r['n_findings']:>5d} "
                  f"{r['feature_recall']:>5.2f} {r['K']:>3d} {r['rmse']:>7.3f} {r['oracle_rmse']:>7.3f} "
                  f"{r['ratio']:>6.2f} {r['seconds']:>6.1f}", flush=True)
            h = r.get("hypotheses")
            if h is not None:
                if not h["supported"]:
                    print("      hypotheses: this GenZRegressor has no 'hypotheses' parameter")
                else:
                    t, f = h["true"], h["false"]
                    print(f"      true hypothesis {t['descriptor']}: {'kept' if t['kept'] else 'NOT kept'}; "
                          f"false hypothesis {f['descriptor']}: {'kept' if f['kept'] else 'rejected'}")
            if args.show_features:
                for f, m in zip(r["features"], r["feature_term"]):
                    print(f"      {'F' if f in r['findings'] else ' '}{'*' if m is not None else ' '} {f}")
                for t, ok in zip(r["terms"], r["term_found"]):
                    if not ok:
                        print(f"      missed: {t}")
    summary = summarize(results)
    print("\nmean over seeds " + args.seeds)
    print(f"{'task':<11} {'recall':>6} {'prec':>5} {'finds':>5} {'f.rec':>5} {'K':>5} {'rmse':>7} {'oracle':>7} "
          f"{'ratio':>6} {'min rec':>7} {'min prec':>8} {'max ratio':>9} {'sec':>6}")
    for s in summary:
        print(f"{s['task']:<11} {s['recall']:>6.2f} {s['precision']:>5.2f} {s['n_findings']:>5.1f} "
              f"{s['feature_recall']:>5.2f} {s['K']:>5.1f} {s['rmse']:>7.3f} "
              f"{s['oracle_rmse']:>7.3f} {s['ratio']:>6.2f} {s['min_recall']:>7.2f} {s['min_precision']:>8.2f} "
              f"{s['max_ratio']:>9.2f} {s['seconds']:>6.1f}")
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as fh:
            json.dump({"seeds": seeds, "results": results, "summary": summary, "platform": environment()}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
