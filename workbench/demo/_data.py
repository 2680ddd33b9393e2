"""The causal story behind the demo loan-approval data (see docs/DEMO.md).

Every applicant is drawn in causal order, each step depending only on earlier ones:

1. ``sex`` (F 48 %) and ``age_band`` (18-25 17 %, 26-40 38 %, 41-60 32 %, 60+ 13 %); an exact
   ``age`` is drawn inside the band and is not published.
2. ``employment_type`` depends on age band and sex: part-time work is three times as common
   for women, contract work is common among the young, retirement only after 60.
3. ``region`` is independent of everything else.
4. ``credit_history_years`` grows with age (years since 18 times a Beta(5, 2) share); part-time
   and contract workers have somewhat thinner files.
5. ``income`` (annual, log-normal) depends on employment, age, region and — the pay gap —
   sex (-6 %). ``open_lines`` grows with credit history. ``purpose`` depends on age band,
   ``loan_amount`` on purpose and income, ``debt_ratio`` on income, open lines and purpose.
6. **Repayment** (latent, never published) follows a non-linear score: a saturating income
   effect, a sharp penalty above a 0.42 debt ratio, a saturating credit-history benefit, a
   U-shape in open lines, a loan-to-income penalty, employment and purpose effects, and a
   thin-file penalty for the self-employed.
7. **The historical label** ``approved`` is repayment *filtered by biased underwriters*:
   any applicant with a "non-standard" file — part-time or contract work with under four years
   of credit history, or under two years of history with at most one open line — was declined
   with probability 0.60, everyone else with probability 0.10. Such files are mostly the young
   (and more often women), so the label carries a disparity that a flexible model learns (it
   can express the *and*) while a linear one only spreads it thinly over main effects.

Missing values are planted after the label: ``income`` 2 % (5 % for the self-employed),
``debt_ratio`` 3 %, ``credit_history_years`` 2.5 %.

The replay traffic (12 weeks from 2026-08-03, UTC) adds gradual drift — nominal income
inflates by 4.5 % a week (real income, which drives repayment, does not), the debt ratio
rises by 0.012 a week — and a segment shift: from week 7 a broker campaign in the south
brings self-employed applicants borrowing for a business, 20 % of the traffic. Labels of
weeks 11 and 12 are missing (not yet known).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SEX = ("F", "M")
AGE_BANDS = ("18-25", "26-40", "41-60", "60+")
EMPLOYMENT = ("salaried", "self_employed", "contract", "part_time", "unemployed", "retired")
REGIONS = ("north", "south", "east", "west")
PURPOSES = ("home", "car", "education", "business", "debt_consolidation", "other")

NUMERIC_FEATURES = ("income", "debt_ratio", "credit_history_years", "open_lines", "loan_amount")
CATEGORICAL_FEATURES = ("employment_type", "region", "purpose")
# model inputs in the order of the data files' columns
FEATURES = (
    "income", "debt_ratio", "credit_history_years", "open_lines",
    "employment_type", "region", "loan_amount", "purpose",
)
SENSITIVE = ("sex", "age_band")
TARGET = "approved"
ID_COLUMN = "application_id"
TIMESTAMP = "timestamp"

REPLAY_START = pd.Timestamp("2026-08-03T00:00:00Z")
REPLAY_WEEKS = 12
LABELLED_WEEKS = 10
INCOME_INFLATION_PER_WEEK = 0.045
DEBT_RATIO_RISE_PER_WEEK = 0.012
SEGMENT_FROM_WEEK = 7
SEGMENT_SHARE = 0.20
SEGMENT = {"region": "south", "employment_type": "self_employed", "purpose": "business"}

_P_FEMALE = 0.48
_P_AGE_BAND = (0.17, 0.38, 0.32, 0.13)
_AGE_RANGE = ((18, 26), (26, 41), (41, 61), (61, 81))
# employment probabilities by age band (rows) for men; women: part_time x3, self_employed x0.7
_P_EMPLOYMENT = np.array(
    [
        # salaried self_emp contract part_time unemployed retired
        [0.46, 0.04, 0.28, 0.14, 0.08, 0.00],
        [0.66, 0.11, 0.11, 0.07, 0.05, 0.00],
        [0.66, 0.15, 0.07, 0.07, 0.05, 0.00],
        [0.20, 0.10, 0.04, 0.10, 0.02, 0.54],
    ]
)
_FEMALE_EMPLOYMENT_FACTOR = np.array([1.0, 0.7, 1.0, 3.0, 1.0, 1.0])
_P_REGION = (0.28, 0.24, 0.22, 0.26)
_P_PURPOSE = np.array(
    [
        # home  car  education business debt_cons other
        [0.08, 0.30, 0.32, 0.05, 0.13, 0.12],
        [0.34, 0.22, 0.06, 0.10, 0.18, 0.10],
        [0.30, 0.18, 0.03, 0.14, 0.23, 0.12],
        [0.26, 0.20, 0.01, 0.05, 0.18, 0.30],
    ]
)
_LOG_INCOME_EMPLOYMENT = np.array([0.25, 0.30, 0.05, -0.45, -1.00, -0.20])
_LOG_INCOME_REGION = np.array([0.05, -0.08, -0.03, 0.08])
_LOAN_MEDIAN = np.array([180_000, 22_000, 18_000, 60_000, 15_000, 8_000])
_REPAY_EMPLOYMENT = np.array([0.30, -0.10, -0.05, -0.10, -1.20, 0.25])
_REPAY_PURPOSE = np.array([0.20, 0.10, 0.25, -0.30, -0.20, 0.00])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _choice_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``probs`` (rows sum to 1), vectorised."""
    cum = np.cumsum(probs, axis=1)
    cum[:, -1] = 1.0
    u = rng.random(len(probs))[:, None]
    return (u > cum).sum(axis=1)


def _applicants(
    rng: np.random.Generator,
    n: int,
    *,
    income_factor: np.ndarray | float = 1.0,
    debt_shift: np.ndarray | float = 0.0,
    segment: np.ndarray | None = None,
) -> pd.DataFrame:
    """Draw ``n`` applicants in causal order, with their historical decision.

    ``income_factor`` inflates nominal income (repayment follows real income),
    ``debt_shift`` adds to the debt ratio, ``segment`` marks rows forced into the campaign
    segment (``SEGMENT``).
    """
    seg = np.zeros(n, dtype=bool) if segment is None else segment
    female = rng.random(n) < _P_FEMALE
    band = rng.choice(len(AGE_BANDS), size=n, p=_P_AGE_BAND)
    lo = np.array([r[0] for r in _AGE_RANGE])[band]
    hi = np.array([r[1] for r in _AGE_RANGE])[band]
    age = lo + (hi - lo) * rng.random(n)

    p_emp = _P_EMPLOYMENT[band] * np.where(female[:, None], _FEMALE_EMPLOYMENT_FACTOR, 1.0)
    p_emp /= p_emp.sum(axis=1, keepdims=True)
    emp = _choice_rows(rng, p_emp)
    region = rng.choice(len(REGIONS), size=n, p=_P_REGION)
    purpose = _choice_rows(rng, _P_PURPOSE[band])
    emp[seg] = EMPLOYMENT.index(SEGMENT["employment_type"])
    region[seg] = REGIONS.index(SEGMENT["region"])
    purpose[seg] = PURPOSES.index(SEGMENT["purpose"])

    nonstandard_job = np.isin(emp, [EMPLOYMENT.index("part_time"), EMPLOYMENT.index("contract")])
    history = (age - 18.0) * rng.beta(5.0, 2.0, n) * np.where(nonstandard_job, 0.75, 1.0)
    history = np.clip(history + rng.normal(0.0, 0.4, n), 0.0, None)

    log_income = (
        10.55
        + _LOG_INCOME_EMPLOYMENT[emp]
        + _LOG_INCOME_REGION[region]
        + 0.15 * np.minimum(age - 18.0, 30.0) / 30.0
        - 0.06 * female
        + rng.normal(0.0, 1.0, n) * np.where(emp == 1, 0.55, 0.35)
    )
    real_income = np.exp(log_income)
    income = real_income * income_factor

    open_lines = rng.poisson(0.6 + 0.22 * np.minimum(history, 25.0) + 0.4 * (log_income - 10.5).clip(0))
    loan = _LOAN_MEDIAN[purpose] * np.sqrt(real_income / 45_000.0) * rng.lognormal(0.0, 0.4, n)
    debt_ratio = (
        rng.beta(2.0, 5.0, n)
        + 0.018 * open_lines
        - 0.06 * np.log(real_income / 45_000.0)
        + 0.10 * (purpose == PURPOSES.index("debt_consolidation"))
        + debt_shift
    )
    debt_ratio = np.clip(debt_ratio, 0.0, 0.99)

    logit = (
        2.2
        + 1.4 * np.tanh(np.log(real_income / 40_000.0))
        - 1.0 * debt_ratio
        - 9.0 * np.maximum(debt_ratio - 0.42, 0.0)
        + 0.15 * (1.0 - np.exp(-history / 2.0))
        - 0.25 * np.maximum(open_lines - 5, 0)
        - 0.2 * (open_lines == 0)
        - 1.2 * np.maximum(np.log(loan / real_income) - 0.6, 0.0)
        + _REPAY_EMPLOYMENT[emp]
        + _REPAY_PURPOSE[purpose]
        - 0.8 * ((emp == EMPLOYMENT.index("self_employed")) & (history < 3.0))
    )
    repays = rng.random(n) < _sigmoid(logit)
    # historical underwriting bias: non-standard files were declined regardless of merit
    nonstandard_file = (nonstandard_job & (history < 4.0)) | ((history < 2.0) & (open_lines <= 1))
    declined = rng.random(n) < np.where(nonstandard_file, 0.60, 0.10)
    approved = (repays & ~declined).astype(np.int64)

    frame = pd.DataFrame(
        {
            "income": np.round(income, -2),
            "debt_ratio": np.round(debt_ratio, 3),
            "credit_history_years": np.round(history, 1),
            "open_lines": open_lines.astype(np.int64),
            "employment_type": np.asarray(EMPLOYMENT, dtype=object)[emp],
            "region": np.asarray(REGIONS, dtype=object)[region],
            "loan_amount": np.maximum(np.round(loan, -2), 500.0),
            "purpose": np.asarray(PURPOSES, dtype=object)[purpose],
            "sex": np.where(female, "F", "M").astype(object),
            "age_band": np.asarray(AGE_BANDS, dtype=object)[band],
            TARGET: approved,
        }
    )
    _plant_missing(rng, frame, self_employed=emp == 1)
    return frame


def _plant_missing(rng: np.random.Generator, frame: pd.DataFrame, *, self_employed: np.ndarray) -> None:
    n = len(frame)
    rates = {
        "income": np.where(self_employed, 0.05, 0.02),
        "debt_ratio": np.full(n, 0.03),
        "credit_history_years": np.full(n, 0.025),
    }
    for column, rate in rates.items():
        frame.loc[rng.random(n) < rate, column] = np.nan


def _ids(start: int, n: int) -> np.ndarray:
    return np.array([f"A{i:08d}" for i in range(start, start + n)], dtype=object)


def _finish(frame: pd.DataFrame, first_id: int) -> pd.DataFrame:
    frame.insert(0, ID_COLUMN, _ids(first_id, len(frame)))
    for column in (ID_COLUMN, *CATEGORICAL_FEATURES, *SENSITIVE):
        frame[column] = frame[column].astype("str")
    return frame


def labelled_frame(seed: int, n: int, *, stream: int, first_id: int) -> pd.DataFrame:
    """A stationary labelled sample (reference: stream 0, evaluation: stream 1)."""
    rng = np.random.default_rng([seed, stream])
    return _finish(_applicants(rng, n), first_id)


def replay_frame(seed: int, n: int, *, first_id: int) -> pd.DataFrame:
    """Timestamped traffic over ``REPLAY_WEEKS`` weeks with drift, a segment shift and delayed labels."""
    rng = np.random.default_rng([seed, 2])
    seconds = np.sort(rng.integers(0, REPLAY_WEEKS * 7 * 86_400, size=n))
    week = seconds // (7 * 86_400) + 1  # 1-based week of the replay
    segment = (week >= SEGMENT_FROM_WEEK) & (rng.random(n) < SEGMENT_SHARE)
    frame = _applicants(
        rng,
        n,
        income_factor=1.0 + INCOME_INFLATION_PER_WEEK * (week - 1),
        debt_shift=DEBT_RATIO_RISE_PER_WEEK * (week - 1),
        segment=segment,
    )
    frame = _finish(frame, first_id)
    frame[TARGET] = frame[TARGET].astype("float64")
    frame.loc[week > LABELLED_WEEKS, TARGET] = np.nan
    frame.insert(1, TIMESTAMP, REPLAY_START + pd.to_timedelta(seconds, unit="s"))
    return frame
