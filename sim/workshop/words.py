"""Plain words for the code names a page would otherwise show, marked for translation.

Segments, policies and remedies are named in scenario files and code
(`big_accounts`, `clv`, `feedback_loop`); the workshop shows them in plain
words of the page's language. A segment of a scenario file that is not listed
here is shown with its underscores as spaces.
"""

from __future__ import annotations

from sim.i18n import N_, localize

#: Segment names of the built-in scenarios, in plain words.
SEGMENT_WORDS: dict[str, str] = {
    "regulars": N_("Regulars"),
    "big_accounts": N_("Big accounts"),
    "small_growers": N_("Small growing firms"),
    "bargain_hunters": N_("Bargain hunters"),
    "ordinary": N_("Ordinary customers"),
    "vocal_regulars": N_("Vocal regulars"),
    "quiet_switchers": N_("Quiet switchers"),
    "friendly_regulars": N_("Friendly regulars"),
    "small_workshops": N_("Small workshops"),
    "industrial": N_("Industrial customers"),
    "distributors": N_("Distributors"),
    "demanding_clients": N_("Demanding clients"),
}
#: The debrief bots' policies, in plain words.
POLICY_WORDS: dict[str, str] = {
    "clv": N_("value at risk"),
    "churn_risk": N_("churn risk"),
}
#: Each bias's short name, as in "Bot with affinity (0.8)".
BIAS_SHORT: dict[str, str] = {
    "affinity": N_("affinity"),
    "salience": N_("salience"),
    "big_account": N_("big-account bias"),
    "stale_data": N_("stale data"),
    "stereotype": N_("stereotyping"),
    "acquisition_focus": N_("acquisition focus"),
    "overpromise": N_("over-promising"),
    "points_lockin": N_("points lock-in"),
}
#: What the remedies advise (the same words as `sim.remedies`' `advice`, marked for the catalogue;
#: tests/test_i18n.py checks that they stay the same).
REMEDY_ADVICE: dict[str, str] = {
    "training": N_("Name the bias before each decision (training): ask 'would I decide the same "
                   "if I did not like / hear / know this customer?'."),
    "data_refresh": N_("Refresh the data (market research): retune to this quarter's purchases and "
                       "re-read the segment table instead of last year's report."),
    "feedback_loop": N_("Build a feedback loop: read survey results and complaint data every round "
                        "and let them steer whom you serve and what you promise."),
    "diverse_team": N_("Decide with colleagues who see customers differently (diverse team): pool "
                       "your allocation with theirs before you submit."),
}


def segment_words(name: str, lang: str) -> str:
    """A segment's name in plain words of `lang`."""
    return localize(SEGMENT_WORDS.get(name, name.replace("_", " ")), lang)
