"""REINFORCE (Williams 1992): stochastic modules that record log-probabilities, and the reward criterion."""
