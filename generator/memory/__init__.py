"""GPU memory: sglang's split of the card, the weight checker's peak, the advisor and its lint."""
