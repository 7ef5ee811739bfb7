"""The HTML report's diagram: laid out by connected component, with the script that pans, zooms and filters it."""
