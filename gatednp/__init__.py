"""gatednp: LSTM and GRU in NumPy with hand-written BPTT."""
