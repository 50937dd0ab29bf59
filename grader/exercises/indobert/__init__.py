"""IndoBERT on SmSA: fine-tune indobenchmark/indobert-base-p1 for 3-way sentiment, as in the IndoNLU tutorial.

Kernel side: `probe` finds the student's BertForSequenceClassification and tokenizer by type and exports the
model's weights (tensors), the tokenizer's tokenizer.json, the label names and the frozen parameters' names (JSON).
Grader side: the checks load those into the grader's own BertForSequenceClassification (built from the staged,
trusted config.json), re-measure macro-F1 and accuracy on the labelled evaluation set (and predict the masked test
file, to recognise metrics computed there), compare the weights with the staged pretrained checkpoint, and compare
the metrics the notebook reported — printed, in progress bars, in tables — with the re-measurement.
"""

from grader.exercise import CheckType, Exercise
from grader.exercises.indobert import checks, plan, schema

EXERCISE = Exercise(
    id="indobert",
    title="Fine-tuning IndoBERT on SmSA",
    kernel="grader.exercises.indobert.kernel",
    plan=plan.make_plan,
    plan_params=plan.PlanParams,
    schema=schema.ProbeValues,
    checks={
        "indobert.model": CheckType(checks.model_found),
        "indobert.fine_tuned": CheckType(checks.fine_tuned),
        "indobert.macro_f1": CheckType(checks.macro_f1, checks.BarParams),
        "indobert.accuracy": CheckType(checks.accuracy, checks.BarParams),
        "indobert.reported_metrics": CheckType(checks.reported_metrics, checks.ReportedMetricsParams),
    },
    datasets=("smsa", "indobert"),
)
