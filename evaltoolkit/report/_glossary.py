"""Jargon in the report text, linked to the glossary.

Each entry is ``(term, pattern, meaning)``: ``term`` is an entry of the book's glossary
(``book/reference/glossary.md``; a test checks every one exists there), ``pattern`` finds it in report text
and ``meaning`` is the short definition the standalone report prints in its own glossary section. The book
pages link the first use of a term in each section to the book's glossary (MyST ``{term}`` role); the
standalone HTML links it to the report's glossary section, so the page stays self-contained.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

__all__ = ["TERMS", "find_terms", "link_html", "link_myst"]

# Patterns are matched against text already escaped for its output (Markdown escapes ``_`` as ``\_``;
# HTML escapes ``'`` as ``&#x27;``), so the few terms with those characters tolerate both spellings.
_Q = r"(?:'|&#x27;)"
TERMS: tuple[tuple[str, str, str], ...] = (
    (
        "Controlled ITS",
        r"\b(?i:controlled) (?:ITS|(?i:interrupted time series))\b",
        "An interrupted time series that also models a site where nothing changed, so changes that hit every "
        "site are not mistaken for an effect.",
    ),
    (
        "ITS",
        r"\bITS\b|\b(?i:interrupted time series)\b",
        "Interrupted time series: regular measurements after a change compared with what the trend before it "
        "predicted.",
    ),
    (
        "Segmented regression",
        r"\b(?i:segmented regression)\b",
        "The usual model of an interrupted time series: one trend before the change and another from it.",
    ),
    (
        "Counterfactual",
        r"\b(?i:counterfactual)\b",
        "What would probably have happened without the change; an estimate, not an observation.",
    ),
    (
        "Rate ratio",
        r"\b(?i:rate ratios?)\b",
        "One rate divided by another: 1 means no difference, 0.80 means 20% lower.",
    ),
    (
        "Prediction interval",
        r"\b(?i:prediction intervals?)\b",
        "The range in which the effect at a new, similar site would probably fall, allowing for how much "
        "sites differ.",
    ),
    (
        "Confidence interval",
        r"\b(?i:confidence intervals?)\b",
        "The range of values compatible with the data under the model.",
    ),
    (
        "I²",
        r"I²|\bQ-test\b|\b(?i:random-effects)\b",
        "I²: the share of the variation between sites' estimates that is more than chance would explain; "
        "τ² is the variance of the true site effects; the Q-test asks whether they differ at all.",
    ),
    (
        "AR(1) errors",
        r"\bAR\(1\)(?: errors)?",
        "A model in which each period's deviation from the trend carries over part of the previous one's.",
    ),
    (
        "Autocorrelation",
        r"\b(?i:autocorrelat(?:ion|ed))\b",
        "Similarity between neighbouring measurements of a series; ignored, it makes intervals too narrow.",
    ),
    (
        "Newey–West",
        r"\bNewey–West\b",
        "Standard errors that stay valid when neighbouring errors are correlated.",
    ),
    (
        "REML",
        r"\bREML\b",
        "Restricted maximum likelihood, a way of fitting a regression with autocorrelated errors.",
    ),
    (
        "Quasi-Poisson",
        r"\b(?i:quasi-Poisson)\b",
        "A count model whose variance is the Poisson variance times a constant, allowing for overdispersion.",
    ),
    (
        "Negative binomial",
        r"\b(?i:negative binomial)\b",
        "A count model whose variance grows with the square of the mean, allowing for overdispersion.",
    ),
    (
        "Overdispersion",
        r"\b(?i:overdispers(?:ion|ed))\b",
        "More variation in counts than a Poisson model assumes.",
    ),
    (
        "Gamma model",
        r"\b(?i:gamma)\b(?: \(log-link\))?(?: models?)?",
        "A regression for a positive, skewed measure such as mean length of stay; effects are ratios of "
        "means.",
    ),
    (
        "Fourier terms",
        r"\bFourier(?: terms?| pairs?)?",
        "Sine and cosine curves with periods of a year, half a year and so on, describing seasonality.",
    ),
    (
        "Seasonality",
        r"\b(?i:seasonality)\b",
        "A pattern that repeats every year, modelled so it is not mistaken for an effect.",
    ),
    (
        "Durbin–Watson statistic",
        r"\bDurbin–Watson(?: statistic| test)?",
        "A check for correlation between neighbouring residuals: near 2 means none.",
    ),
    (
        "Ljung–Box test",
        r"\bLjung–Box(?: tests?)?",
        "A test of whether a model's residuals are correlated at any of the first few lags together.",
    ),
    (
        "Transition period",
        r"\b(?i:phase-in(?: period)?)\b|\b(?i:transition period)\b",
        "Months after go-live while the service is still being set up.",
    ),
    (
        "Placebo test",
        r"\b(?i:placebo)(?: (?i:tests?|analys[ie]s|checks?|go-live))?\b",
        "The analysis repeated where no effect should be found (a fake go-live, or a control site); an "
        "apparent effect there warns of bias.",
    ),
    (
        "Sensitivity analysis",
        r"\b(?i:sensitivity analys[ie]s)\b",
        "The same question answered with another reasonable method, to see whether the conclusion "
        "depends on it.",
    ),
    (
        "Percentile interval",
        r"\b(?i:percentile intervals?)\b|\b(?i:Monte[- ]Carlo p-values?)\b",
        "Intervals and p-values of derived figures computed from many random draws of the fitted "
        "coefficients.",
    ),
    (
        "Certainty rating",
        r"\b(?i:certainty rating)\b",
        "How sure we are about an outcome (high, moderate, low, very low), by fixed rules adapted "
        "from GRADE.",
    ),
    (
        "EPOC",
        r"\bEPOC\b",
        "Cochrane Effective Practice and Organisation of Care: its criteria for designs and risk of bias.",
    ),
    (
        "TIDieR",
        r"\bTIDieR\b",
        "Template for Intervention Description and Replication: the checklist describing the service.",
    ),
    (
        "Regression to the mean",
        r"\b(?i:regression to the mean)\b",
        "Unusually high measurements tend to be followed by more ordinary ones, with or without a service.",
    ),
    (
        "Difference-in-differences",
        r"\b(?i:difference-in-differences)\b",
        "The change in one group minus the change in a comparison group.",
    ),
    (
        "GEE",
        r"\bGEE\b",
        "Generalised estimating equations: valid standard errors for repeated measurements of the "
        "same people.",
    ),
    (
        "Holm correction",
        r"\bHolm(?:[- ]adjusted| correction)?\b",
        "A correction for testing several outcomes at once that keeps the chance of any false "
        "positive at the chosen level.",
    ),
    (
        "Cohen's d_z",
        rf"\b(?:Cohen{_Q}s )?d\\?_z\b",
        "Paired standardised change: mean change divided by the standard deviation of the changes.",
    ),
    (
        "Hedges' g_av",
        rf"\b(?:Hedges{_Q} )?g\\?_av\b",
        "Paired standardised change on the between-group scale: mean change divided by the average of the "
        "before and after standard deviations, corrected for small samples.",
    ),
    (
        "Reliable change index",
        r"\b(?i:reliable change)(?: (?i:index))?\b|\bJacobson–Truax\b",
        "A change in score larger than measurement error alone would produce.",
    ),
    (
        "Clinically significant change",
        r"\b(?i:clinically significant change)\b",
        "A reliable improvement that also crosses into the range typical of the general population.",
    ),
    (
        "Caseness",
        r"\b(?i:caseness)\b",
        "A score at or above a questionnaire's clinical threshold.",
    ),
    (
        "Mixed model",
        r"\b(?i:mixed models?)\b",
        "A regression with a random effect per person that uses every available score.",
    ),
    (
        "Bed-day",
        r"\b(?i:bed-days?)\b",
        "A night spent in hospital, counted at midnight.",
    ),
    (
        "Length of stay",
        r"\b(?i:length of stay)\b",
        "The time from admission to discharge of a spell, in days.",
    ),
    (
        "Suppression",
        r"\b(?i:suppress(?:ed|ion))\b",
        "Small counts hidden (and others rounded) so that no person can be identified from the outputs.",
    ),
    (
        "NWAU",
        r"\bNWAU\b",
        "National weighted activity unit: the Australian measure of hospital activity used for funding.",
    ),
    (
        "Capacity released",
        r"\b(?i:capacity released)\b",
        "Bed-days or clinic time no longer used; not cash saved unless beds or staff are removed.",
    ),
    (
        "SPC",
        r"\bSPC\b",
        "Statistical process control: charts separating ordinary variation from unusual changes.",
    ),
    (
        "XmR chart",
        r"\bXmR(?: charts?)?\b",
        "The basic SPC chart: values with limits at the mean ± 2.66 times the average moving range.",
    ),
    (
        "Laney p′ chart",
        r"\b(?:Laney )?p′(?: charts?)?",
        "An SPC chart for proportions with varying denominators, with limits widened for overdispersion.",
    ),
    (
        "Laney u′ chart",
        r"\b(?:Laney )?u′(?: charts?)?",
        "An SPC chart for rates with varying denominators, with limits widened for overdispersion.",
    ),
)
"""``(glossary term, pattern, short meaning)``, longest or most specific first."""

_MEANING = {t: m for t, _, m in TERMS}
_PATTERN = re.compile("|".join(f"(?P<t{k}>{p})" for k, (_, p, _) in enumerate(TERMS)))
_TAG = re.compile(r"(<[^>]*>)")


def _term(m: re.Match[str]) -> str:
    assert m.lastgroup is not None
    return TERMS[int(m.lastgroup[1:])][0]


def slug(term: str) -> str:
    """HTML anchor of a glossary term (``term-`` and ASCII letters and digits)."""
    plain = term.replace("²", "2").replace("′", "-prime").replace("–", "-")
    return "term-" + re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")


def find_terms(texts: Iterable[str]) -> list[tuple[str, str]]:
    """Glossary terms used in ``texts``, as ``(term, meaning)`` sorted by term (case-insensitive)."""
    found = {_term(m) for text in texts for m in _PATTERN.finditer(text)}
    return [(t, _MEANING[t]) for t in sorted(found, key=str.casefold)]


def _link(text: str, seen: set[str], make: Callable[[str, str], str]) -> str:
    def sub(m: re.Match[str]) -> str:
        term = _term(m)
        if term in seen:
            return m.group(0)
        seen.add(term)
        return make(m.group(0), term)

    return _PATTERN.sub(sub, text)


def link_myst(markdown: str, seen: set[str]) -> str:
    """Markdown text (already escaped) with the first use of each term not in ``seen`` turned into a MyST
    ``{term}`` role pointing at the book's glossary; ``seen`` is updated."""

    def make(shown: str, term: str) -> str:
        return f"{{term}}`{shown.replace(chr(92), '')} <{term}>`"

    return _link(markdown, seen, make)


def link_html(escaped: str, seen: set[str]) -> str:
    """HTML text (already escaped; tags left alone) with the first use of each term not in ``seen`` linked
    to the report's own glossary section; ``seen`` is updated."""
    parts = _TAG.split(escaped)
    inside_link = False
    for k, part in enumerate(parts):
        if k % 2:
            if part.startswith("<a "):
                inside_link = True
            elif part == "</a>":
                inside_link = False
            continue
        if not inside_link:
            parts[k] = _link(
                part, seen, lambda shown, term: f'<a class="term" href="#{slug(term)}">{shown}</a>'
            )
    return "".join(parts)
