"""Services built on the store and the outside world: registry, predictor, insights, health, reference, retention."""
