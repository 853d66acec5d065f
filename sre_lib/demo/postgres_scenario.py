"""The demo's PostgreSQL scenario: the statements, tables, indexes and sequences of the Community Hub database,
with the numbers and the days of the findings scripted into its history (the generators in ``postgres_*``
turn them into frames; the tests measure each finding from those frames):

* REGRESSION_QUERY's mean time jumps from ~6 ms to ~90 ms at day REGRESSION_DAY (86, in the last week), then stays;
* NEW_SLOW_QUERY first runs at day NEW_STATEMENT_DAY (85): ~300 ms a call, ~120 calls a day;
* pg_stat_statements_reset() at day RESET_DAY (45): counters, pgss_stats_reset and stats_since restart;
* XSS_QUERY carries ``<script>`` in a comment (pg_stat_statements keeps comments): reports must escape it;
* pgss_dealloc rises once, from 0 to 2, at day DEALLOC_DAY;
* maintenance debt: events_log bloated (autovacuum last ran 13 days before the end), sessions not analysed
  for 9 days and outside the weekly VACUUM ANALYZE job, comments (1.25 M+ rows) seq-scanned by a query
  on an unindexed column and below 99 % heap cache hits, an unused index (idx_users_legacy_email), a
  duplicate pair (idx_posts_author, idx_posts_author_created), an invalid index (idx_events_log_tmp),
  audit_log_id_seq (integer) above 90 % of 2^31-1, every relation's frozen xid age growing;
* an idle-in-transaction worker session at the end, the nightly report running > 60 s every night;
* a 2-hour WAL archive failure at day ARCHIVE_FAILURE_DAY (60).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

DATNAME = "community_hub"
SCHEMA = "public"
SERVER_VERSION_NUM = 170002
PGSS_VERSION = "1.11"
MAX_CONNECTIONS = 100
INT4_MAX = 2_147_483_647
INT8_MAX = 9_223_372_036_854_775_807

RESET_DAY = 45.0
REGRESSION_DAY = 86.0
NEW_STATEMENT_DAY = 85.0
DEALLOC_DAY = 85.5
ARCHIVE_FAILURE_DAY = 60.0
ARCHIVE_FAILURE_DURATION = timedelta(hours=2)
PRIOR_DAYS = 20.0  # pg_stat_statements was last reset this long before the span
REPORT_LOCAL_TIME = "02:00"  # the nightly analytics report is running at this snapshot
WAL_INTERVAL = timedelta(minutes=5)  # archive_timeout: one WAL segment archived every 5 minutes
WAL_SEGMENT_AT_START = 0x3A2C0  # WAL segment number at spec.start
WEEKLY_VACUUM_LOCAL_TIME = "04:30"  # Sundays: VACUUM ANALYZE of the tables listed in the cron job


@dataclass(frozen=True)
class Statement:
    """One normalised statement and its workload. Rates are calls per day at the start of the span."""

    query: str
    user: str
    per_day: float
    mean_ms: float
    rows: float  # rows per call
    blks: float  # shared blocks touched per call
    hit: float = 0.9995  # share of them found in shared_buffers
    profile: str = "web"  # web (daily/weekly cycle, growing), flat, hourly, or a local time "HH:MM"
    wal: float = 0.0  # WAL bytes per call
    temp: float = 0.0  # temp blocks written (and read back) per call
    since_day: float | None = None  # first runs on this day of the span


REGRESSION_QUERY = (
    "SELECT p.id, p.author_id, p.title, p.body, p.created_at FROM posts p "
    "WHERE p.community_id = $1 AND p.created_at < $2 ORDER BY p.created_at DESC LIMIT $3"
)
NEW_SLOW_QUERY = (
    "SELECT e.id, e.title, e.starts_at, count(r.user_id) AS attendees FROM events e "
    "LEFT JOIN event_rsvps r ON r.event_id = e.id WHERE e.starts_at BETWEEN $1 AND $2 "
    "AND lower(e.title) LIKE $3 GROUP BY e.id ORDER BY attendees DESC LIMIT $4"
)
XSS_QUERY = (
    "/* <script>alert('x')</script> */ SELECT p.id, p.title, p.created_at FROM posts p "
    "WHERE p.author_id = $1 ORDER BY p.created_at DESC LIMIT $2"
)
SEQ_SCAN_QUERY = (
    "SELECT c.id, c.post_id, c.body, c.created_at FROM comments c "
    "WHERE c.author_id = $1 ORDER BY c.created_at DESC LIMIT $2"
)
REPORT_QUERY = (
    "SELECT date_trunc($1, c.created_at) AS day, p.community_id, count(*) AS comments, "
    "count(DISTINCT c.author_id) AS authors FROM comments c JOIN posts p ON p.id = c.post_id "
    "WHERE c.created_at >= $2 GROUP BY 1, 2 ORDER BY 1, 2"
)
# audit_log grows only by its INSERT statement: the statement's calls and the table's (and its id sequence's)
# growth are one rate.
AUDIT_ROWS = 12_000_000
AUDIT_GROWTH_WEEK = 0.018
AUDIT_INSERTS_PER_DAY = AUDIT_ROWS * AUDIT_GROWTH_WEEK / 7
AUDIT_INSERT_QUERY = (
    "INSERT INTO audit_log (actor_id, action, target_type, target_id, created_at) VALUES ($1, $2, $3, $4, $5)"
)

# fmt: off
STATEMENTS: tuple[Statement, ...] = (
    Statement("SELECT id, email, display_name, avatar_url, created_at FROM users WHERE id = $1",
              "hub_app", 420_000, 0.07, 1, 4, 0.9999),
    Statement("SELECT user_id, data, expires_at FROM sessions WHERE token = $1 AND expires_at > now()",
              "hub_app", 650_000, 0.05, 1, 4, 0.9999),
    Statement("UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE token = $3",
              "hub_app", 210_000, 0.11, 1, 5, wal=190),
    Statement("INSERT INTO sessions (token, user_id, data, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
              "hub_app", 9_000, 0.18, 1, 7, wal=520),
    Statement(REGRESSION_QUERY, "hub_app", 60_000, 6.0, 20, 60, 0.999),
    Statement("SELECT c.id, c.author_id, c.body, c.created_at FROM comments c WHERE c.post_id = $1 "
              "ORDER BY c.created_at LIMIT $2", "hub_app", 4_000, 1.4, 25, 32, 0.998),
    Statement(SEQ_SCAN_QUERY, "hub_app", 9_000, 120.0, 10, 80_000, 0.965),
    Statement("INSERT INTO comments (post_id, author_id, body, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
              "hub_app", 4_500, 0.9, 1, 12, wal=950),
    Statement("INSERT INTO posts (community_id, author_id, title, body, created_at) "
              "VALUES ($1, $2, $3, $4, $5) RETURNING id", "hub_app", 1_300, 1.3, 1, 16, wal=2_600),
    Statement("SELECT e.id, e.title, e.starts_at, e.venue FROM events e WHERE e.business_id = $1 "
              "AND e.starts_at >= $2 ORDER BY e.starts_at LIMIT $3", "hub_app", 14_000, 0.45, 8, 12),
    Statement("SELECT id, name, slug, category, rating FROM businesses WHERE slug = $1",
              "hub_app", 35_000, 0.09, 1, 4),
    Statement("SELECT b.id, b.name, ts_rank(b.search_vector, q) AS rank FROM businesses b, "
              "plainto_tsquery($1, $2) q WHERE b.search_vector @@ q ORDER BY rank DESC LIMIT $3",
              "hub_app", 18_000, 24.0, 20, 900, 0.996),
    Statement("SELECT id, kind, payload, created_at FROM notifications WHERE user_id = $1 AND read_at IS NULL "
              "ORDER BY created_at DESC LIMIT $2", "hub_app", 70_000, 0.35, 5, 9),
    Statement("INSERT INTO event_rsvps (event_id, user_id, created_at) VALUES ($1, $2, $3) "
              "ON CONFLICT (event_id, user_id) DO NOTHING", "hub_app", 2_200, 0.5, 1, 8, wal=310),
    Statement(AUDIT_INSERT_QUERY, "hub_app", AUDIT_INSERTS_PER_DAY, 0.14, 1, 5, wal=340),
    Statement("INSERT INTO events_log (user_id, kind, payload, created_at) VALUES ($1, $2, $3, $4)",
              "hub_app", 330_000, 0.05, 1, 4, wal=260),
    Statement("UPDATE jobs SET status = $1, locked_at = now(), locked_by = $2 WHERE id = (SELECT id FROM jobs "
              "WHERE status = $3 AND run_at <= now() ORDER BY run_at FOR UPDATE SKIP LOCKED LIMIT $4) "
              "RETURNING id, kind, payload", "hub_worker", 17_280, 1.1, 1, 14, profile="flat", wal=300),
    Statement("DELETE FROM sessions WHERE expires_at < $1", "hub_worker", 24, 450.0, 3_750, 2_500,
              profile="hourly", wal=225_000),
    Statement("DELETE FROM events_log WHERE created_at < $1", "hub_worker", 1, 38_000.0, 280_000, 190_000,
              0.97, profile="03:30", wal=19_600_000),
    Statement(REPORT_QUERY, "hub_report", 1, 240_000.0, 2_900, 160_000, 0.8, profile="02:01", temp=48_000),
    Statement(XSS_QUERY, "hub_app", 3_000, 0.6, 10, 14),
    Statement(NEW_SLOW_QUERY, "hub_app", 120, 300.0, 20, 21_000, 0.99, since_day=NEW_STATEMENT_DAY),
)
# fmt: on

USER_OIDS = {"hub_app": 16_389, "hub_worker": 16_390, "hub_report": 16_391}
DB_OID = 16_401
CALL_GROWTH = 0.30  # web traffic grows 30 % over the span


@dataclass(frozen=True)
class Table:
    """A user table's size, churn, access pattern and maintenance (rates per day at the start)."""

    name: str
    rows: float  # live rows at the start
    growth_week: float  # net growth per week
    row_bytes: float
    seq_day: float  # sequential scans per day
    heap_day: float  # heap blocks touched per day
    heap_hit: float  # share found in shared_buffers
    xid_age_m: float  # age(relfrozenxid) at the start, millions
    autovacuum_days: float  # autovacuum runs about this often ...
    autoanalyze_days: float
    del_day: float = 0.0  # deleted rows per day, share of live rows
    upd_day: float = 0.0  # updated rows per day, share of live rows
    del_at: str = "web"  # deletes follow traffic (web), run hourly (flat) or nightly ("HH:MM")
    weekly_job: bool = True  # listed in the weekly VACUUM ANALYZE cron job
    autovacuum_stop_days: float = 0.0  # ... but not in the last this many days
    autoanalyze_stop_days: float = 0.0


# fmt: off
TABLES: tuple[Table, ...] = (
    # name, live rows, growth/week, bytes/row, seq scans/day, heap blocks/day, heap hit share,
    # age(relfrozenxid) in millions, autovacuum and autoanalyze about every ... days
    Table("users",          600_000,    0.014,   420,    30, 2.0e6, 0.9995, 48, 4, 2, upd_day=0.05),
    Table("sessions",       150_000,    0.005,   300,     2, 4.0e6, 0.9998,  9, 0.4, 0.5, del_day=0.6, upd_day=3.0,
          del_at="flat", weekly_job=False, autoanalyze_stop_days=9),
    Table("posts",          320_000,    0.020, 1_400,    40, 1.5e6, 0.998,  52, 3, 1.5, del_day=5e-4, upd_day=0.01),
    Table("comments",     1_250_000,    0.020,   580, 9_000, 7.2e8, 0.965,  61, 5, 2, del_day=2e-4, upd_day=0.005),
    Table("events",          40_000,    0.020,   700,   300, 2.0e5, 0.999,  35, 6, 3, upd_day=0.02),
    Table("event_rsvps",    380_000,    0.020,    60,    20, 1.0e5, 0.999,  33, 6, 3, del_day=0.001),
    Table("businesses",      12_000,    0.010, 1_900,   400, 1.5e6, 0.9995, 58, 6, 3, upd_day=0.02),
    Table("jobs",            25_000,    0.0,     260,    10, 6.0e5, 0.9999,  4, 0.05, 0.1, del_day=1.0, upd_day=2.0,
          del_at="flat"),
    Table("audit_log", AUDIT_ROWS, AUDIT_GROWTH_WEEK, 110,  2, 1.0e5, 0.995,  63, 6, 3),
    Table("events_log",   8_000_000,    0.012,   160,     3, 5.0e5, 0.993,  57, 1.5, 1.5, del_day=0.035,
          del_at="03:30", weekly_job=False, autovacuum_stop_days=13),
    Table("notifications", 2_200_000,   0.018,   200,     5, 8.0e5, 0.997,  22, 3, 1.5, del_day=0.01, upd_day=0.05),
    Table("media_uploads",  180_000,    0.020,   640,     5, 1.0e5, 0.997,  40, 6, 3),
)

# id sequences: table -> (data_type, last_value at the start). audit_log's ids were carried over from the
# legacy platform, so its int4 sequence is already near 2^31 - 1.
SEQUENCES: dict[str, tuple[str, float]] = {
    "users": ("bigint", 640_000), "posts": ("bigint", 331_000), "comments": ("integer", 1_290_000),
    "events": ("integer", 41_500), "businesses": ("integer", 12_800), "jobs": ("bigint", 48_200_000),
    "audit_log": ("integer", 0.9 * INT4_MAX - 0.6e6), "events_log": ("bigint", 412_000_000),
    "notifications": ("bigint", 2_600_000), "media_uploads": ("integer", 183_000),
}
# fmt: on


@dataclass(frozen=True)
class Index:
    """A user index: its definition after ``USING``, bytes per entry, scans per day."""

    name: str
    table: str
    using: str  # e.g. "btree (author_id, created_at)" as pg_get_indexdef prints it
    entry_bytes: float
    scans_day: float
    tuples_per_scan: float = 1.0
    unique: bool = False
    primary: bool = False
    valid: bool = True
    coverage: float = 1.0  # share of rows indexed (partial indexes)


def _pkey(table: str, scans_day: float, columns: str = "id", entry_bytes: float = 24) -> Index:
    return Index(f"{table}_pkey", table, f"btree ({columns})", entry_bytes, scans_day, 1, True, True)


# fmt: off
INDEXES: tuple[Index, ...] = (
    _pkey("users", 430_000),
    Index("users_email_key", "users", "btree (email)", 56, 9_000, unique=True),
    Index("idx_users_legacy_email", "users", "btree (lower((email)::text))", 52, 0),
    _pkey("sessions", 870_000, "token", 64),
    Index("idx_sessions_user_id", "sessions", "btree (user_id)", 24, 500, 3),
    Index("idx_sessions_expires_at", "sessions", "btree (expires_at)", 24, 24, 3_750),
    _pkey("posts", 60_000),
    Index("idx_posts_community_created", "posts", "btree (community_id, created_at DESC)", 32, 60_000, 20),
    Index("idx_posts_author", "posts", "btree (author_id)", 24, 1_500, 10),
    Index("idx_posts_author_created", "posts", "btree (author_id, created_at)", 32, 3_000, 10),
    _pkey("comments", 300),
    Index("idx_comments_post_created", "comments", "btree (post_id, created_at)", 32, 4_000, 25),
    _pkey("events", 8_000),
    Index("idx_events_business_starts", "events", "btree (business_id, starts_at)", 32, 14_000, 8),
    _pkey("event_rsvps", 2_500, "event_id, user_id", 32),
    _pkey("businesses", 20_000),
    Index("businesses_slug_key", "businesses", "btree (slug)", 48, 35_000, unique=True),
    Index("idx_businesses_search", "businesses", "gin (search_vector)", 60, 18_000, 40),
    _pkey("jobs", 17_000),
    Index("idx_jobs_queued", "jobs", "btree (run_at) WHERE ((status)::text = 'queued'::text)", 24, 17_300,
          coverage=0.05),
    _pkey("audit_log", 20),
    Index("idx_audit_log_created_at", "audit_log", "brin (created_at)", 0.006, 4, 50_000),
    _pkey("events_log", 10),
    Index("idx_events_log_created_at", "events_log", "btree (created_at)", 24, 30, 10_000),
    Index("idx_events_log_tmp", "events_log", "btree (user_id, kind)", 40, 0, valid=False),
    _pkey("notifications", 3_000),
    Index("idx_notifications_user_unread", "notifications",
          "btree (user_id, created_at DESC) WHERE (read_at IS NULL)", 32, 70_000, 5, coverage=0.15),
    _pkey("media_uploads", 6_000),
    Index("idx_media_uploads_owner", "media_uploads", "btree (owner_id)", 24, 2_000, 4),
)
# fmt: on

XID_PER_DAY = 0.85e6  # write transactions a day at the start (grow with traffic)
STATS_AGE_DAYS = 120.0  # pg_stat_* counters accumulated this long before the span
