"""Event Grid and ACS callbacks: who sent them, what they say, then the call service applies them."""
