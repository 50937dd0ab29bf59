"""GRU from scratch: a GRUCell and a batch-first GRU layer that unrolls it, equal in behaviour to nn.GRU.

Kernel side: `probe` builds the student's classes, sets their parameters to values it draws from the grader's
seed, and records those values together with the outputs on the grader's inputs.
Grader side: the checks search how the recorded parameter tensors map onto a reference GRU of each standard
form (reset gate before or after the recurrent matmul, either update convention, with or without biases, any
gate order, fused or separate, transposed or not) and require equal outputs.
"""

from grader.exercise import CheckType, Exercise
from grader.exercises.gru import checks, plan, schema

EXERCISE = Exercise(
    id="gru",
    title="GRU from scratch",
    kernel="grader.exercises.gru.kernel",
    plan=plan.make_plan,
    plan_params=plan.PlanParams,
    schema=schema.ProbeValues,
    checks={
        "gru.constructible": CheckType(checks.constructible),
        "gru.shapes": CheckType(checks.shapes),
        "gru.cell": CheckType(checks.cell),
        "gru.layer": CheckType(checks.layer),
        "gru.gradients": CheckType(checks.gradients),
        "gru.param_count": CheckType(checks.param_count),
        "gru.from_scratch": CheckType(checks.from_scratch, checks.FromScratchParams),
    },
)
