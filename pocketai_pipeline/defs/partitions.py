"""One daily partition per UTC snapshot date, shared by the three sync assets."""

import dagster as dg

# end_offset=1 makes today's (still open) UTC day a partition: the daily sync snapshots "now".
daily_partitions = dg.DailyPartitionsDefinition(start_date="2026-10-01", timezone="UTC", end_offset=1)
