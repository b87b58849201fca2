"""gatednp: LSTM and GRU in NumPy with hand-written BPTT, exact to PyTorch.

The gate math lives in lstm.py and gru.py; recurrent.py builds torch's layers from it.
"""

from .checkpoint import load, save
from .gradcheck import GradcheckReport, gradcheck
from .gru import GRUCell
from .lab.introspect import gate_activations
from .lab.models import GRUModel, LSTMModel
from .linear import Linear
from .losses import huber_loss, l1_loss, mse_loss
from .lstm import LSTMCell
from .module import Module, Parameter
from .optim import SGD, Adam, clip_grad_norm
from .recurrent import GRU, LSTM, RNN
from .rnn import RNNCell
from .streaming import Stateful
from .threads import get_num_threads, set_num_threads
from .train import train

__all__ = [
    "LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell", "Linear", "Module", "Parameter",
    "LSTMModel", "GRUModel", "Stateful",
    "mse_loss", "l1_loss", "huber_loss", "Adam", "SGD", "clip_grad_norm",
    "gradcheck", "GradcheckReport", "gate_activations",
    "save", "load",
    "train",
    "set_num_threads", "get_num_threads",
]  # fmt: skip
__version__ = "0.1.0"
