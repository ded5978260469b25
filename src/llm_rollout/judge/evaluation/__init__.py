"""Evaluating the judge: synthetic data, golden cases and studies of its operating characteristics.

Nothing here is used to make a decision; it measures how the judge's decisions behave.

==================  ========================================================================
:mod:`.synth`       windows from stated distributions (the data of golden cases and studies)
:mod:`.golden`      the golden-case runner (``tests/golden/judge_cases.json``)
:mod:`.detection`   one gate over repeated looks: false-FAIL rate, samples to detect
:mod:`.rates`       the rate gates at every look of a run at once, confirmed by the judge
:mod:`.rollout`     a whole A/A rollout of a spec under window-to-window drift
:mod:`.coverage`    uniform coverage of the mean CS on a synthetic arm's own columns
==================  ========================================================================

``scripts/check_statistics.py`` runs the studies at full N (``docs/statistics.md`` holds its
output) and reports simulated rates with :func:`llm_rollout.stats.binomial_interval`;
``scripts/make_golden.py`` writes the golden suite.
"""

# Each harness is imported by its module (``judge.evaluation.golden``, ...); nothing here.
__all__: list[str] = []
