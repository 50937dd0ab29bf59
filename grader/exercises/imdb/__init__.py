"""IMDb sentiment: a basic RNN vs a multi-layer bidirectional LSTM (bentrevett/pytorch-sentiment-analysis).

Grader side: `make_plan` draws held-back test reviews (never staged into the work dir) with the seeded
generator; the checks read the per-epoch and test accuracies from every place a cell reports (printed lines,
progress bars on stderr, displayed or printed tables, printed dicts of lists), attribute each training log to
the RNN or the advanced model by what the code and the output say, and compute accuracy and parameter counts
themselves from what the probe measured.
Kernel side: `probe` finds the trained models by structure (an nn.Module holding an nn.RNN; one holding an
nn.LSTM or nn.GRU), records their parameters, and calls the notebook's `predict_sentiment` the way the notebook
itself calls it (either tutorial's signature, with the notebook's own tokenizer, vocabulary and device) on each
held-back review.
"""

from grader.exercise import CheckType, Exercise
from grader.exercises.imdb import checks, plan, schema

EXERCISE = Exercise(
    id="imdb",
    title="IMDb sentiment: basic RNN vs 2-layer bidirectional LSTM",
    kernel="grader.exercises.imdb.kernel",
    plan=plan.make_plan,
    plan_params=plan.PlanParams,
    schema=schema.ProbeValues,
    checks={
        "imdb.rnn_trained": CheckType(checks.rnn_trained, checks.RnnTrainedParams),
        "imdb.rnn_report": CheckType(checks.rnn_report, checks.RnnReportParams),
        "imdb.bilstm_trained": CheckType(checks.bilstm_trained, checks.BilstmTrainedParams),
        "imdb.bilstm_report": CheckType(checks.bilstm_report, checks.BilstmReportParams),
        "imdb.param_count": CheckType(checks.param_count),
        "imdb.summary": CheckType(checks.summary),
    },
    datasets=("imdb",),
)
