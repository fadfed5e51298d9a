"""Discrete-event simulation of a process on SimPy: stochastic runs, history replay, what-ifs.

The package reads the model (:mod:`flowsim.model`) and deal logs (:mod:`flowsim.history`); it
never imports :mod:`flowsim.render`.
"""
