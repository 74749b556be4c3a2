"""A fleet of endpoints and its registration storm: plan and meter, the real fleet, its
worker shards, the fleet drill."""
