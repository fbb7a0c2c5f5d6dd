"""The public app: the only funnelflow service meant to face the internet."""
