-- The warehouse schema: the one place where every table and column is documented.
--
-- Conventions
--   * All timestamps are TIMESTAMPTZ, stored in UTC. Reports convert to platform.timezone.
--   * `server` names a monitored server as the collector saw it (for PostgreSQL: the configured
--     target name, never a DSN; for Redis: [sources.redis].server).
--   * Snapshot tables hold one row per object per snapshot, with counters *as collected* (cumulative,
--     never differenced at write time). Analyses compute deltas between snapshots and handle resets.
--   * Each table's natural key is given in its comment. A collection run replaces rows with the same key,
--     which makes loading the same window twice idempotent. No constraints are declared: DuckDB enforces
--     them with in-memory indexes that we do not need for append-mostly data.
--   * The demo generator writes exactly these tables; so do the collectors.

CREATE TABLE IF NOT EXISTS schema_info (
    key   VARCHAR,  -- 'schema_version', 'created_at', 'created_by'
    value VARCHAR
);
COMMENT ON TABLE schema_info IS 'Key/value facts about this warehouse file: schema_version, created_at.';

CREATE TABLE IF NOT EXISTS collection_runs (
    run_id        VARCHAR,      -- uuid4 of the run
    source        VARCHAR,      -- 'prometheus', 'postgres', 'redis', 'backups', 'demo', ...
    target        VARCHAR,      -- what was read: a URL without credentials, a server name, a file
    window_start  TIMESTAMPTZ,  -- requested window (NULL for point-in-time snapshots)
    window_end    TIMESTAMPTZ,
    started_at    TIMESTAMPTZ,
    finished_at   TIMESTAMPTZ,
    status        VARCHAR,      -- 'ok' or 'failed'
    rows_written  BIGINT,       -- rows inserted by the run (0 when failed: a failed run writes nothing)
    error         VARCHAR       -- one-line reason when failed, free of secrets
);
COMMENT ON TABLE collection_runs IS 'Log of collection runs, one row per run. Key: run_id.';

CREATE TABLE IF NOT EXISTS metric_series (
    series_id  BIGINT,   -- stable hash of (metric, labels): same series, same id, in every run
    source     VARCHAR,  -- where it came from: 'prometheus', 'demo', ...
    metric     VARCHAR,  -- indicator name: cpu, memory, disk, db_connections, error_rate, latency_p95, ...
    component  VARCHAR,  -- key of [components] in the platform config
    instance   VARCHAR,  -- server or scope within the component ('app-1', 'media', 'all')
    labels     VARCHAR   -- all labels as canonical JSON (sorted keys)
);
COMMENT ON TABLE metric_series IS 'Identity of each metric series. Key: series_id.';

CREATE TABLE IF NOT EXISTS metric_samples (
    series_id  BIGINT,       -- metric_series.series_id
    ts         TIMESTAMPTZ,  -- sample time
    value      DOUBLE        -- in the unit of the indicator (percent, ms, per second, ...); never NaN/Inf
);
COMMENT ON TABLE metric_samples IS 'Metric samples from any source. Key: (series_id, ts); a run replaces its window per series.';

CREATE TABLE IF NOT EXISTS pg_snapshots (
    server                 VARCHAR,
    taken_at               TIMESTAMPTZ,
    server_version_num     INTEGER,      -- e.g. 150018
    pgss_version           VARCHAR,      -- pg_stat_statements extension version, NULL if absent
    max_connections        INTEGER,
    pgss_dealloc           BIGINT,       -- pg_stat_statements_info.dealloc (PG >= 14), else NULL
    pgss_stats_reset       TIMESTAMPTZ   -- pg_stat_statements_info.stats_reset (PG >= 14), else NULL
);
COMMENT ON TABLE pg_snapshots IS 'One row per PostgreSQL snapshot: server facts at that time. Key: (server, taken_at).';

CREATE TABLE IF NOT EXISTS pg_stat_statements (
    server               VARCHAR,
    taken_at             TIMESTAMPTZ,
    userid               BIGINT,
    dbid                 BIGINT,
    queryid              BIGINT,
    toplevel             BOOLEAN,      -- NULL before PG 14
    username             VARCHAR,
    datname              VARCHAR,
    query                VARCHAR,      -- normalised text as pg_stat_statements shows it
    calls                BIGINT,
    total_exec_time_ms   DOUBLE,       -- total_time before PG 13
    min_exec_time_ms     DOUBLE,
    max_exec_time_ms     DOUBLE,
    mean_exec_time_ms    DOUBLE,
    stddev_exec_time_ms  DOUBLE,
    plans                BIGINT,       -- PG >= 13
    total_plan_time_ms   DOUBLE,       -- PG >= 13
    rows                 BIGINT,
    shared_blks_hit      BIGINT,
    shared_blks_read     BIGINT,
    shared_blks_dirtied  BIGINT,
    shared_blks_written  BIGINT,
    local_blks_hit       BIGINT,
    local_blks_read      BIGINT,
    temp_blks_read       BIGINT,
    temp_blks_written    BIGINT,
    blk_read_time_ms     DOUBLE,       -- shared_blk_read_time from PG 17
    blk_write_time_ms    DOUBLE,       -- shared_blk_write_time from PG 17
    wal_bytes            DOUBLE,       -- PG >= 13
    stats_since          TIMESTAMPTZ   -- PG >= 17: when this entry's counters started
);
COMMENT ON TABLE pg_stat_statements IS 'pg_stat_statements rows per snapshot, raw cumulative counters, one normalised shape for PG 12-18. Key: (server, taken_at, userid, dbid, queryid, toplevel).';

CREATE TABLE IF NOT EXISTS pg_tables (
    server               VARCHAR,
    taken_at             TIMESTAMPTZ,
    datname              VARCHAR,
    schemaname           VARCHAR,
    relname              VARCHAR,
    seq_scan             BIGINT,
    seq_tup_read         BIGINT,
    idx_scan             BIGINT,
    idx_tup_fetch        BIGINT,
    n_tup_ins            BIGINT,
    n_tup_upd            BIGINT,
    n_tup_del            BIGINT,
    n_live_tup           BIGINT,
    n_dead_tup           BIGINT,
    n_mod_since_analyze  BIGINT,
    last_vacuum          TIMESTAMPTZ,
    last_autovacuum      TIMESTAMPTZ,
    last_analyze         TIMESTAMPTZ,
    last_autoanalyze     TIMESTAMPTZ,
    vacuum_count         BIGINT,
    autovacuum_count     BIGINT,
    analyze_count        BIGINT,
    autoanalyze_count    BIGINT,
    heap_blks_read       BIGINT,       -- from pg_statio_user_tables
    heap_blks_hit        BIGINT,
    idx_blks_read        BIGINT,
    idx_blks_hit         BIGINT,
    table_bytes          BIGINT,       -- pg_table_size
    total_bytes          BIGINT,       -- pg_total_relation_size
    frozen_xid_age       BIGINT,       -- age(relfrozenxid)
    relid                BIGINT,       -- the table's oid: a new one means it was dropped and re-created (schema 3)
    size_estimated       BOOLEAN       -- table/total_bytes from pg_class.relpages: the table was locked (schema 4)
);
COMMENT ON TABLE pg_tables IS 'pg_stat_user_tables + pg_statio_user_tables + sizes per snapshot. Key: (server, taken_at, datname, schemaname, relname).';

CREATE TABLE IF NOT EXISTS pg_indexes (
    server          VARCHAR,
    taken_at        TIMESTAMPTZ,
    datname         VARCHAR,
    schemaname      VARCHAR,
    relname         VARCHAR,
    indexrelname    VARCHAR,
    idx_scan        BIGINT,
    idx_tup_read    BIGINT,
    idx_tup_fetch   BIGINT,
    index_bytes     BIGINT,
    indexdef        VARCHAR,         -- pg_get_indexdef
    is_unique       BOOLEAN,
    is_primary      BOOLEAN,
    is_valid        BOOLEAN,
    indexrelid      BIGINT,          -- the index's oid: a new one means it was dropped and re-created (schema 3)
    size_estimated  BOOLEAN          -- index_bytes from pg_class.relpages: the index was locked (schema 4)
);
COMMENT ON TABLE pg_indexes IS 'pg_stat_user_indexes with definitions and sizes per snapshot. Key: (server, taken_at, datname, schemaname, indexrelname).';

CREATE TABLE IF NOT EXISTS pg_databases (
    server          VARCHAR,
    taken_at        TIMESTAMPTZ,
    datname         VARCHAR,
    size_bytes      BIGINT,
    xid_age         BIGINT,          -- age(datfrozenxid): wraparound headroom is 2^31 - this
    numbackends     INTEGER,
    xact_commit     BIGINT,
    xact_rollback   BIGINT,
    blks_read       BIGINT,
    blks_hit        BIGINT,
    temp_bytes      BIGINT,
    deadlocks       BIGINT,
    stats_reset     TIMESTAMPTZ,     -- when pg_stat_reset() last ran in it (NULL: never); its tables' and indexes' counters restart then (schema 3)
    objects_collected BOOLEAN        -- its tables, indexes and sequences were read in this snapshot ([sources.postgres] databases; schema 3)
);
COMMENT ON TABLE pg_databases IS 'pg_stat_database and sizes per snapshot. Key: (server, taken_at, datname).';

CREATE TABLE IF NOT EXISTS pg_activity (
    server                  VARCHAR,
    taken_at                TIMESTAMPTZ,
    datname                 VARCHAR,
    state                   VARCHAR,   -- active, idle, idle in transaction, ...
    sessions                INTEGER,
    waiting                 INTEGER,   -- with a wait_event of type Lock
    longest_query_seconds   DOUBLE,
    longest_xact_seconds    DOUBLE
);
COMMENT ON TABLE pg_activity IS 'pg_stat_activity summarised by database and state per snapshot. Key: (server, taken_at, datname, state).';

CREATE TABLE IF NOT EXISTS pg_long_sessions (
    server          VARCHAR,
    taken_at        TIMESTAMPTZ,
    pid             INTEGER,
    datname         VARCHAR,
    username        VARCHAR,
    application     VARCHAR,
    state           VARCHAR,
    xact_start      TIMESTAMPTZ,
    query_start     TIMESTAMPTZ,
    state_change    TIMESTAMPTZ,
    duration_seconds DOUBLE,          -- of the query when active, of the transaction otherwise
    query           VARCHAR           -- first 1000 characters
);
COMMENT ON TABLE pg_long_sessions IS 'Sessions running or idle in transaction longer than the collector threshold (60 s) per snapshot. Key: (server, taken_at, pid).';

CREATE TABLE IF NOT EXISTS pg_archiver (
    server              VARCHAR,
    taken_at            TIMESTAMPTZ,
    archive_mode        VARCHAR,        -- setting: on, off, always
    archived_count      BIGINT,
    last_archived_wal   VARCHAR,
    last_archived_time  TIMESTAMPTZ,
    failed_count        BIGINT,
    last_failed_wal     VARCHAR,
    last_failed_time    TIMESTAMPTZ,
    stats_reset         TIMESTAMPTZ
);
COMMENT ON TABLE pg_archiver IS 'pg_stat_archiver and archive_mode per snapshot. Key: (server, taken_at).';

CREATE TABLE IF NOT EXISTS pg_replication (
    server            VARCHAR,
    taken_at          TIMESTAMPTZ,
    application_name  VARCHAR,
    client_addr       VARCHAR,
    state             VARCHAR,
    sync_state        VARCHAR,
    sent_lsn          VARCHAR,
    replay_lsn        VARCHAR,
    replay_lag_bytes  BIGINT,
    write_lag_seconds DOUBLE,
    flush_lag_seconds DOUBLE,
    replay_lag_seconds DOUBLE,
    slot_type         VARCHAR          -- of the slot it streams from: logical (a subscriber, not a standby), physical, or NULL (none; schema 3)
);
COMMENT ON TABLE pg_replication IS 'pg_stat_replication per snapshot (no rows: no replica). Key: (server, taken_at, application_name, client_addr).';

CREATE TABLE IF NOT EXISTS pg_replication_slots (
    server           VARCHAR,
    taken_at         TIMESTAMPTZ,
    slot_name        VARCHAR,
    slot_type        VARCHAR,
    active           BOOLEAN,
    retained_bytes   BIGINT,           -- WAL held back by the slot; 0 when it reserves none, NULL when unknown (a standby)
    wal_status       VARCHAR           -- PG >= 13: reserved, extended, unreserved, or lost (its WAL is gone; schema 3)
);
COMMENT ON TABLE pg_replication_slots IS 'pg_replication_slots per snapshot. Key: (server, taken_at, slot_name).';

CREATE TABLE IF NOT EXISTS pg_sequences (
    server        VARCHAR,
    taken_at      TIMESTAMPTZ,
    datname       VARCHAR,
    schemaname    VARCHAR,
    sequencename  VARCHAR,
    data_type     VARCHAR,             -- smallint, integer, bigint
    last_value    BIGINT,
    max_value     BIGINT,
    increment_by  BIGINT,
    min_value     BIGINT,              -- the limit of a descending sequence; NULL in rows from schema 1
    owner_table   VARCHAR,             -- the table and column owning it (serial, identity, OWNED BY), if any
    owner_column  VARCHAR,
    column_type   VARCHAR              -- that column's type: its maximum may come first (schema 4)
);
COMMENT ON TABLE pg_sequences IS 'pg_sequences per snapshot. Key: (server, taken_at, datname, schemaname, sequencename).';

CREATE TABLE IF NOT EXISTS redis_info (
    server                     VARCHAR,
    taken_at                   TIMESTAMPTZ,
    redis_version              VARCHAR,
    used_memory                BIGINT,
    maxmemory                  BIGINT,   -- 0 means no limit
    keyspace_hits              BIGINT,
    keyspace_misses            BIGINT,
    evicted_keys               BIGINT,
    expired_keys               BIGINT,
    connected_clients          INTEGER,
    rejected_connections       BIGINT,
    maxclients                 INTEGER,
    instantaneous_ops_per_sec  DOUBLE,
    rdb_last_bgsave_status     VARCHAR,
    rdb_last_save_time         TIMESTAMPTZ,
    aof_enabled                BOOLEAN,
    aof_last_write_status      VARCHAR,
    run_id                     VARCHAR,  -- changes when the server restarts (its counters start again from 0)
    uptime_in_seconds          BIGINT,
    total_commands_processed   BIGINT,
    total_connections_received BIGINT
);
COMMENT ON TABLE redis_info IS 'Redis INFO snapshots, counters as collected (since the restart of run_id or a CONFIG RESETSTAT). Key: (server, taken_at).';

CREATE TABLE IF NOT EXISTS backups (
    server        VARCHAR,
    backup_id     VARCHAR,          -- pgBackRest label or the log's id
    kind          VARCHAR,          -- full, diff, incr
    started_at    TIMESTAMPTZ,
    finished_at   TIMESTAMPTZ,
    status        VARCHAR,          -- ok, failed
    size_bytes    BIGINT,
    wal_start     VARCHAR,
    wal_stop      VARCHAR,
    origin        VARCHAR           -- 'pgbackrest', 'log', 'demo'
);
COMMENT ON TABLE backups IS 'Backups taken. Key: (server, backup_id).';

CREATE TABLE IF NOT EXISTS offsite_copies (
    server        VARCHAR,
    backup_id     VARCHAR,
    copied_at     TIMESTAMPTZ,
    destination   VARCHAR,
    status        VARCHAR,          -- ok, failed
    origin        VARCHAR
);
COMMENT ON TABLE offsite_copies IS 'Off-site copies of backups. Key: (server, copied_at, destination).';

CREATE TABLE IF NOT EXISTS restore_tests (
    server        VARCHAR,
    backup_id     VARCHAR,
    started_at    TIMESTAMPTZ,
    finished_at   TIMESTAMPTZ,      -- finished_at - started_at is the measured recovery time
    status        VARCHAR,          -- ok, failed
    notes         VARCHAR,
    origin        VARCHAR
);
COMMENT ON TABLE restore_tests IS 'Tested restores and how long they took. Key: (server, started_at).';

CREATE TABLE IF NOT EXISTS pgbackrest_checks (
    server        VARCHAR,          -- the PostgreSQL server the stanza backs up ([sources.postgres].server)
    stanza        VARCHAR,
    checked_at    TIMESTAMPTZ,      -- when `pgbackrest check` started
    status        VARCHAR,          -- ok, failed (a non-zero exit, or no answer within the timeout)
    duration_seconds DOUBLE,
    reason        VARCHAR           -- why it failed, one line (pgBackRest's error), never a secret; NULL when ok
);
COMMENT ON TABLE pgbackrest_checks IS 'Live pgbackrest check results (archiving works now, not only in history). Key: (server, checked_at).';

CREATE TABLE IF NOT EXISTS job_runs (
    job           VARCHAR,      -- papermill_jobs/<job>.toml
    kind          VARCHAR,      -- 'report' or 'collect'
    scheduled_for TIMESTAMPTZ,  -- the schedule slot this run served (NULL when run by hand)
    started_at    TIMESTAMPTZ,
    finished_at   TIMESTAMPTZ,
    status        VARCHAR,      -- 'ok' or 'failed'
    output        VARCHAR,      -- report directory, or the collection summary
    error         VARCHAR
);
COMMENT ON TABLE job_runs IS 'Log of scheduled job runs (sre jobs run). Key: (job, started_at).';
