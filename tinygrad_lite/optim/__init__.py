"""Optimizers and learning-rate schedules with torch.optim's names and update formulas."""
from . import lr_scheduler
from .adam import Adam, AdamW, SparseAdam
from .optimizer import Optimizer
from .sgd import SGD
from .rmsprop import RMSprop
from .adagrad import Adagrad
from .adadelta import Adadelta
from .adam_variants import Adamax, NAdam, RAdam
from .lbfgs import LBFGS
from .rprop_asgd import ASGD, Rprop

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "SparseAdam", "lr_scheduler", "RMSprop", "Adagrad", "Adadelta"]
__all__ += ["Adamax", "NAdam", "RAdam", "LBFGS", "Rprop", "ASGD"]
