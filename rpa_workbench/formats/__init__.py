"""Date formats for the admin and the dashboard, the same in English and Chinese: one clock,
one format (`2026-01-21 14:30:00`), as `rpa_workbench.timefmt.display_datetime` writes them.

Only these names are overridden; the rest (month names in the date hierarchy…) is Django's."""

DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i:s"
TIME_FORMAT = "H:i:s"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
