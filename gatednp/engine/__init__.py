"""The engines: each cell's math over whole sequences, fast (one module per cell).

A cell file (lstm.py, gru.py, rnn.py) states the equations and the textbook step; its engine
here runs the same math over T steps with the input GEMMs hoisted, buffers written in place and
the batch optionally split over threads. tests/test_engine.py proves each engine equal to a
loop over its cell's textbook step, for every option.
bidirectional.py runs both directions of a small bidirectional LSTM or GRU layer with the
defaults in one forward loop (fewer NumPy calls a step; recurrent.py chooses it).
"""
