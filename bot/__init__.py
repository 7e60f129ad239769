"""Vietnamese customer-support assistant for a mobile operator."""
