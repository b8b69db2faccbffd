"""Task distributions."""
from .base import TaskBatch
from .sinusoid import RegressionBatch, SinusoidDistribution

__all__ = ["TaskBatch", "RegressionBatch", "SinusoidDistribution"]
from .navigation import BatchedNavigation2D, Navigation2D, NavigationDistribution
from .velocity import BatchedPointVelocity1D, PointVelocity1D, VelocityDistribution

__all__ += ["Navigation2D", "BatchedNavigation2D", "NavigationDistribution",
            "PointVelocity1D", "BatchedPointVelocity1D", "VelocityDistribution"]
from .characters import CharacterSet, load_characters, load_omniglot, split as split_characters
from .fewshot import Episodes, FewShotDistribution

__all__ += ["CharacterSet", "load_characters", "load_omniglot", "split_characters", "Episodes", "FewShotDistribution"]
