"""The AI assistant: understand (nlu/), answer from knowledge, act through flows and connectors, hand over."""
