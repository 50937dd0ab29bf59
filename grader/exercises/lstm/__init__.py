"""LSTM from scratch (the slides' LSTMCell and LSTM): a cell `forward(x, (h, c)) → (h', c')` and a batch-first layer
`forward(x, (h0, c0)) → (outputs, (h_T, c_T))` that unrolls it, equal in behaviour to nn.LSTM.

Kernel side: `probe` builds the student's classes, sets their parameters to values drawn from the grader's seed and
records them with the outputs on the grader's inputs, once more with only the cell state shifted, and the responses
the behavioural reading needs.
Grader side: the checks read the recorded parameters as gate blocks in any layout and find each gate from what the
outputs reveal (o, then f, then i and g); when no reading of the tensors fits, the cell is read by its behaviour.
"""

from grader.exercise import CheckType, Exercise
from grader.exercises.lstm import checks, plan, schema

EXERCISE = Exercise(
    id="lstm",
    title="LSTM from scratch",
    kernel="grader.exercises.lstm.kernel",
    plan=plan.make_plan,
    plan_params=plan.PlanParams,
    schema=schema.ProbeValues,
    measured_apart=True,
    checks={
        "lstm.constructible": CheckType(checks.constructible),
        "lstm.shapes": CheckType(checks.shapes),
        "lstm.cell": CheckType(checks.cell),
        "lstm.layer": CheckType(checks.layer),
        "lstm.gradients": CheckType(checks.gradients),
        "lstm.param_count": CheckType(checks.param_count),
        "lstm.from_scratch": CheckType(checks.from_scratch, checks.FromScratchParams),
    },
)
