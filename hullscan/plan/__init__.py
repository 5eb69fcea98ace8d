"""Survey planning: lanes that clear the hull for a compartment height within a time window,
landmarks first, with the coverage predicted by the comparator's own uncertainty model."""
