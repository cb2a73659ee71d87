"""Fitting models: training and evaluation of the classifier, its row-scoring arrays, the choice of a training window."""
