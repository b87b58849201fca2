"""gatednp: LSTM and GRU in NumPy with hand-written BPTT, exact to PyTorch.

The gate math lives in lstm.py and gru.py; recurrent.py builds torch's layers from it.
"""

from .gru import GRUCell
from .linear import Linear
from .lstm import LSTMCell
from .module import Module, Parameter
from .recurrent import GRU, LSTM
from .gradcheck import GradcheckReport, gradcheck

__all__ = ["LSTM", "GRU", "LSTMCell", "GRUCell", "Linear", "Module", "Parameter", "gradcheck", "GradcheckReport"]
__version__ = "0.1.0"
