"""Conv1D notebooks written on Colab: they import the scientific stack Colab preinstalls and install with `!pip`.

They need the course's kernel environment (`grader env build`): without it the imports fail and the grade drops.
"""

from __future__ import annotations

from make_notebooks import IMPORTS, SLIDES_CONV1D, code, md

from verdict_fixtures import Fixture

COLAB_SETUP = """\
!pip install torch
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
import seaborn as sns
from sklearn.metrics import mean_squared_error
from tqdm.auto import tqdm"""

PLOT_OUTPUTS = """\
layer = Conv1D(2, 3, 3)
x = torch.randn(1, 2, 16)
y = layer(x).detach()
print("mse vs zeros:", mean_squared_error(np.zeros(16), y[0, 0].numpy()))
frame = pd.DataFrame(y[0].numpy().T, columns=["c0", "c1", "c2"])
for _ in tqdm(range(3)):
    pass
sns.lineplot(data=frame)
plt.plot(x[0, 0].numpy())
plt.show()"""

FIXTURES = [
    Fixture(
        name="conv1d_colab_imports",
        exercise="conv1d",
        source="slides (001_*.txt) Conv1D, in a Colab notebook: numpy, pandas, matplotlib, seaborn, sklearn and tqdm "
               "imported beside torch, `!pip install torch` in the first cell",
        band=(100, 100),
        why="a correct slides Conv1D; the packages it imports are Colab's and the pip line needs no network to "
            "matter, so nothing about the environment may cost a point",
        cells=(md("# Conv1D\n**Student:** Colab user"), code(COLAB_SETUP), code(IMPORTS), code(SLIDES_CONV1D),
               code(PLOT_OUTPUTS)),
        report_contains=("skipped `!pip install torch`", "torch 2."),
    ),
]
