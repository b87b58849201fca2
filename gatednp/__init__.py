"""gatednp: LSTM and GRU in NumPy with hand-written BPTT, exact to PyTorch.

The gate math lives in lstm.py, gru.py and rnn.py (equations and the textbook step), the fast
sequence loops in engine/, torch's layers in recurrent.py and the cells in cells.py.
"""

from . import onnx as onnx  # gn.onnx.export / gn.onnx.load; the onnx package only when called
from . import workspace as workspace  # gn.workspace.set_limit / clear / info: reused buffers
from .cells import GRUCell, LSTMCell, RNNCell
from .checkpoint import load, save
from .data import (
    MinMaxScaler,
    StandardScaler,
    random_partition,
    sequential_partition,
    sliding_windows,
)
from .embedding import Embedding, one_hot
from .gates import convert_gates
from .generate import generate, sample_next
from .gradcheck import GradcheckReport, gradcheck
from .keras import from_keras, read_keras_weights, to_keras
from .lab.introspect import gate_activations
from .lab.models import GRUModel, LSTMModel
from .layercheck import check_layer
from .linear import Linear
from .losses import cross_entropy, huber_loss, l1_loss, mse_loss, perplexity
from .metrics import forecast_metrics, mae, mape, r2_score, rmse
from .module import Module, Parameter
from .numgrad import numerical_gradient
from .optim import SGD, Adam, clip_grad_norm
from .recurrent import GRU, LSTM, RNN
from .stepcheck import StepReport, check_step
from .streaming import Stateful
from .threads import get_num_threads, set_num_threads
from .train import train

__all__ = [
    "LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell", "Linear", "Module", "Parameter",
    "LSTMModel", "GRUModel", "Stateful",
    "mse_loss", "l1_loss", "huber_loss", "Adam", "SGD", "clip_grad_norm",
    "gradcheck", "GradcheckReport", "gate_activations",
    "numerical_gradient", "check_step", "StepReport", "check_layer",
    "save", "load", "convert_gates", "from_keras", "to_keras", "read_keras_weights",
    "train",
    "Embedding", "one_hot", "cross_entropy", "perplexity", "sample_next", "generate",
    "random_partition", "sequential_partition", "sliding_windows", "MinMaxScaler", "StandardScaler",
    "mae", "rmse", "mape", "r2_score", "forecast_metrics",
    "set_num_threads", "get_num_threads",
]  # fmt: skip
__version__ = "0.1.0"
