"""Survey planning: lanes that clear the hull for a compartment height within a time window,
landmarks first, with the coverage predicted by the comparator's own uncertainty model."""

# The planning allowance for the survey's systematic error in a cell's height (m): what make_cells
# reads from a replayed cloud as its local and metre-scale systematic terms (the medians of the 0.5 m
# blocks' spread and of the wide term, combined). Measured with navigation depth smoothing on six
# library surveys that are not among the plan checks' hulls (demo 7.1, clean_hull 6.4,
# limpet_on_bottom 8.8, stern_gear 4.0, topsides_mesh 7.1, dvl_drift_1pct 6.7 mm; median 6.9);
# without depth smoothing the same surveys gave 4.7-14.8 mm, median 11.6 (docs/results/issue20_plan.md).
SYSTEMATIC_ALLOWANCE_M = 0.007
