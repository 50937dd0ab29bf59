"""Conv1D from scratch: a 'same'-padded cross-correlation layer, equal in behaviour to nn.Conv1d.

Kernel side: `probe` calls the student's class on inputs the grader chose and records raw outputs.
Grader side: `make_plan` chooses those inputs; the checks recover the layer's effective kernel and bias
from its responses to impulses and decide, in the grader's process, whether it is a convolution.
"""

from grader.exercise import CheckType, Exercise
from grader.exercises.conv1d import checks, plan, schema

EXERCISE = Exercise(
    id="conv1d",
    title="Conv1D from scratch",
    kernel="grader.exercises.conv1d.kernel",
    plan=plan.make_plan,
    plan_params=plan.PlanParams,
    schema=schema.ProbeValues,
    checks={
        "conv1d.constructible": CheckType(checks.constructible),
        "conv1d.shapes": CheckType(checks.shapes),
        "conv1d.equivalence": CheckType(checks.equivalence),
        "conv1d.edge_cases": CheckType(checks.edge_cases),
        "conv1d.gradients": CheckType(checks.gradients),
        "conv1d.param_count": CheckType(checks.param_count),
        "conv1d.from_scratch": CheckType(checks.from_scratch, checks.FromScratchParams),
    },
)
