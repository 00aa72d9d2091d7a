"""comp: a Kaggle-style competition toolkit for tabular regression."""

import os

# MKL may round a matrix product differently depending on how its buffers happen to be aligned
# in memory, which differs from process to process. STRICT conditional numerical reproducibility
# makes the same command with the same seed give bit-identical results on CPU. It must be set
# before MKL initializes, i.e. before torch is imported, which importing this package ensures.
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
