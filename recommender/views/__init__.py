"""The pages that compose several apps, one module per part of the site."""
