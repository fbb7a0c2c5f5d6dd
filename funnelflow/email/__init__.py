"""Email: one sending layer over SendGrid, engagement events back, consent and unsubscribe everywhere."""
