"""Few-shot character classification (MAML paper §5.2): the conv net, settings and loader, evaluation.

`model.py` (the 4-block conv net over a params dict, transductive batch norm, CAVIA's FiLM context; the
episodes as a task batch), `config.py` (FewShotConfig, DEFAULTS per algorithm, data, `load_fewshot`),
`evaluate.py` (accuracy ± 95% CI on held-out characters; fine-tune and prototype baselines) — the read
side — and `train.py` (the loop, `python -m course_lib.fewshot.train`), which this package does not import.
"""
from .config import ALGOS, DEFAULTS, FewShotConfig, build_model, default_config, load_fewshot
from .evaluate import PAPER_OMNIGLOT, evaluate_checkpoint
from .model import ClassificationBatch, ConvNet

__all__ = ["ALGOS", "DEFAULTS", "FewShotConfig", "build_model", "default_config", "load_fewshot",
           "PAPER_OMNIGLOT", "evaluate_checkpoint", "ClassificationBatch", "ConvNet"]
