"""The wire layer: one typed message per topic, decoded once at the edge."""
