"""The use cases people and the loop run: models (train, gate, promote), data, labels."""
