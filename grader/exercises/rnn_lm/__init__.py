"""RNN language model: an RNNCell and RNN from scratch, a word Dataset, a Model, and train/predict functions.

Kernel side: `probe` builds the student's pieces on the grader's inputs and texts, calls the student's `train`
with the grader's batch size and epoch count, and records raw measurements (outputs, logits, vocabularies).
Grader side: the checks compare the cell with nn.RNNCell under any parameter layout, read the Dataset's
semantics off its items, and compute the language model's cross-entropy themselves from the recorded logits.
"""

from grader.exercise import CheckType, Exercise
from grader.exercises.rnn_lm import checks, plan, schema

EXERCISE = Exercise(
    id="rnn_lm",
    title="RNN language model",
    kernel="grader.exercises.rnn_lm.kernel",
    plan=plan.make_plan,
    plan_params=plan.PlanParams,
    schema=schema.ProbeValues,
    checks={
        "rnn_lm.cell": CheckType(checks.cell),
        "rnn_lm.rnn": CheckType(checks.rnn),
        "rnn_lm.dataset": CheckType(checks.dataset),
        "rnn_lm.model": CheckType(checks.model),
        "rnn_lm.learns": CheckType(checks.learns, checks.LearnsParams),
        "rnn_lm.predict": CheckType(checks.predict),
        "rnn_lm.from_scratch": CheckType(checks.from_scratch, checks.FromScratchParams),
    },
)
