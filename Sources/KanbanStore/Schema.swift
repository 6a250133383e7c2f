import GRDB
import KanbanModel

/// The board's on-disk format: Hermes Agent 0.19's own tables, created exactly as `hermes kanban init`
/// creates them, plus the bridge's `bridge_*` tables beside them in the same file.
enum Schema {
    /// The bridge tables' migrations, in order, by GRDB's `DatabaseMigrator` identifiers (recorded in
    /// `grdb_migrations`). Append-only: never edit, rename or reorder a shipped step; change the
    /// `bridge_*` tables by appending a new one.
    static let bridgeMigrations: [(id: String, migrate: @Sendable (Database) throws -> Void)] = [
        ("bridge-v1", { db in for sql in bridgeV1 { try db.execute(sql: sql) } }),
        ("bridge-v2-lane-curve-key", { db in for sql in bridgeV2 { try db.execute(sql: sql) } }),
        ("bridge-v3-workspaces", { db in for sql in bridgeV3 { try db.execute(sql: sql) } }),
        ("bridge-v4-request-scope", { db in for sql in bridgeV4 { try db.execute(sql: sql) } }),
        ("bridge-v5-lane-memory", { db in for sql in bridgeV5 { try db.execute(sql: sql) } }),
    ]

    /// The same steps registered with GRDB's migrator: its bookkeeping (`appliedIdentifiers`,
    /// `hasBeenSuperseded`, `completedMigrations`) is what `migrateBridge` reads and keeps, so
    /// `bridgeMigrator.migrate(writer)` on a migrated board is a no-op.
    ///
    /// `migrateBridge` applies the steps itself rather than calling `migrate(writer)`: GRDB's migrator
    /// only runs through a `DatabaseWriter` (not reentrant on the connection the store holds) and
    /// opens one `BEGIN IMMEDIATE` per step, and SQLite cannot nest transactions. The store needs the
    /// check of what is applied and every step in the one IMMEDIATE transaction it opens at startup,
    /// so two processes opening a board at once cannot both run a step.
    static let bridgeMigrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        for step in bridgeMigrations { migrator.registerMigration(step.id, migrate: step.migrate) }
        return migrator
    }()

    /// What `bridge_meta.schema_version` holds after migrating: the number of migrations. Releases up
    /// to 4efae95 kept their version there (1, then 2) and refuse a board whose value is above theirs,
    /// so it is kept up to date: an older bridge then refuses a board a newer one has changed.
    static var bridgeVersion: Int { bridgeMigrations.count }

    /// The migrations a board at a hand-rolled `schema_version` (before `grdb_migrations`) already has:
    /// version n had exactly the first n steps (v1: `bridgeV1`, v2: `bridgeV2`).
    static let legacyVersions = 2

    /// Hermes 0.19 DDL, verbatim in meaning (see shared/design/hermes-compat.md §1). `IF NOT EXISTS`
    /// everywhere, so attaching to a board Hermes created is a no-op here.
    static let hermesDDL = [
        """
        CREATE TABLE IF NOT EXISTS tasks (id TEXT PRIMARY KEY, title TEXT NOT NULL, body TEXT, assignee TEXT,
         status TEXT NOT NULL, priority INTEGER DEFAULT 0, created_by TEXT, created_at INTEGER NOT NULL,
         started_at INTEGER, completed_at INTEGER, workspace_kind TEXT NOT NULL DEFAULT 'scratch',
         workspace_path TEXT, branch_name TEXT, project_id TEXT, claim_lock TEXT, claim_expires INTEGER,
         tenant TEXT, result TEXT, idempotency_key TEXT, consecutive_failures INTEGER NOT NULL DEFAULT 0,
         worker_pid INTEGER, last_failure_error TEXT, max_runtime_seconds INTEGER, last_heartbeat_at INTEGER,
         current_run_id INTEGER, workflow_template_id TEXT, current_step_key TEXT, skills TEXT,
         model_override TEXT, max_retries INTEGER, goal_mode INTEGER NOT NULL DEFAULT 0, goal_max_turns INTEGER,
         session_id TEXT, block_kind TEXT, block_recurrences INTEGER NOT NULL DEFAULT 0)
        """,
        "CREATE TABLE IF NOT EXISTS task_links (parent_id TEXT NOT NULL, child_id TEXT NOT NULL, PRIMARY KEY (parent_id, child_id))",
        """
        CREATE TABLE IF NOT EXISTS task_comments (id INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL,
         author TEXT NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS task_events (id INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL,
         run_id INTEGER, kind TEXT NOT NULL, payload TEXT, created_at INTEGER NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS task_runs (id INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL,
         profile TEXT, step_key TEXT, status TEXT NOT NULL, claim_lock TEXT, claim_expires INTEGER,
         worker_pid INTEGER, max_runtime_seconds INTEGER, last_heartbeat_at INTEGER, started_at INTEGER NOT NULL,
         ended_at INTEGER, outcome TEXT, summary TEXT, metadata TEXT, error TEXT)
        """,
        """
        CREATE TABLE IF NOT EXISTS task_attachments (id INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL,
         filename TEXT NOT NULL, stored_path TEXT NOT NULL, content_type TEXT, size INTEGER NOT NULL DEFAULT 0,
         uploaded_by TEXT, created_at INTEGER NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS kanban_notify_subs (task_id TEXT NOT NULL, platform TEXT NOT NULL,
         chat_id TEXT NOT NULL, thread_id TEXT NOT NULL DEFAULT '', user_id TEXT, notifier_profile TEXT,
         created_at INTEGER NOT NULL, last_event_id INTEGER NOT NULL DEFAULT 0,
         PRIMARY KEY (task_id, platform, chat_id, thread_id))
        """,
        "CREATE INDEX IF NOT EXISTS idx_tasks_assignee_status ON tasks(assignee, status)",
        "CREATE INDEX IF NOT EXISTS idx_tasks_status ON tasks(status)",
        "CREATE INDEX IF NOT EXISTS idx_tasks_tenant ON tasks(tenant)",
        "CREATE INDEX IF NOT EXISTS idx_tasks_idempotency ON tasks(idempotency_key)",
        "CREATE INDEX IF NOT EXISTS idx_tasks_session_id ON tasks(session_id)",
        "CREATE INDEX IF NOT EXISTS idx_links_child ON task_links(child_id)",
        "CREATE INDEX IF NOT EXISTS idx_links_parent ON task_links(parent_id)",
        "CREATE INDEX IF NOT EXISTS idx_comments_task ON task_comments(task_id, created_at)",
        "CREATE INDEX IF NOT EXISTS idx_events_task ON task_events(task_id, created_at)",
        "CREATE INDEX IF NOT EXISTS idx_events_run ON task_events(run_id, id)",
        "CREATE INDEX IF NOT EXISTS idx_runs_task ON task_runs(task_id, started_at)",
        "CREATE INDEX IF NOT EXISTS idx_runs_status ON task_runs(status)",
        "CREATE INDEX IF NOT EXISTS idx_attachments_task ON task_attachments(task_id, created_at)",
        "CREATE INDEX IF NOT EXISTS idx_notify_task ON kanban_notify_subs(task_id)",
    ]

    /// The bridge's own state as release 4efae95 made it (migration "bridge-v1"). Never edit a shipped
    /// statement: append a migration.
    static let bridgeV1 = [
        "CREATE TABLE bridge_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        // Lane registry. token_hash: SHA-256 of the lane token; the token itself is never stored.
        """
        CREATE TABLE bridge_lanes (name TEXT PRIMARY KEY, kind TEXT NOT NULL, claim_mode TEXT NOT NULL,
         max_concurrency INTEGER NOT NULL DEFAULT 1 CHECK (max_concurrency >= 1), lease_seconds INTEGER,
         allowed_status_mutations TEXT NOT NULL DEFAULT 'own-claimed-only', command TEXT, profile TEXT,
         workspace_policy TEXT NOT NULL DEFAULT 'none', repo TEXT, max_runtime_seconds INTEGER,
         keep_workspaces INTEGER NOT NULL DEFAULT 0, token_hash TEXT NOT NULL UNIQUE,
         created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)
        """,
        // One row per bridge claim (= one Hermes run). Millisecond lease times live here because
        // Hermes keeps whole seconds. ended_at_ms is set when the bridge ends the claim.
        """
        CREATE TABLE bridge_claims (run_id INTEGER PRIMARY KEY, task_id TEXT NOT NULL, lane TEXT NOT NULL,
         token_hash TEXT NOT NULL UNIQUE, lease_ms INTEGER NOT NULL, lease_expires_ms INTEGER NOT NULL,
         claimed_at_ms INTEGER NOT NULL, ended_at_ms INTEGER, end_reason TEXT)
        """,
        "CREATE INDEX bridge_claims_open ON bridge_claims(lease_expires_ms) WHERE ended_at_ms IS NULL",
        "CREATE INDEX bridge_claims_lane_open ON bridge_claims(lane) WHERE ended_at_ms IS NULL",
        // The published event stream. seq is the wire `seq`: AUTOINCREMENT never reuses a value,
        // even after the newest rows are deleted.
        // source_event_id: the Hermes task_events row this event mirrors, so the change watcher can
        // tell the bridge's own writes from those of Hermes' CLI and dispatcher.
        """
        CREATE TABLE bridge_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, task_id TEXT,
         lane TEXT, run_id INTEGER, at_ms INTEGER NOT NULL, data TEXT NOT NULL DEFAULT '{}', source_event_id INTEGER)
        """,
        "CREATE INDEX bridge_events_lane ON bridge_events(lane, seq)",
        "CREATE UNIQUE INDEX bridge_events_source ON bridge_events(source_event_id) WHERE source_event_id IS NOT NULL",
        // The watcher starts after whatever the board already held: history is not re-published.
        "INSERT INTO bridge_meta (key, value) SELECT 'hermes_event_cursor', COALESCE(MAX(id), 0) FROM task_events",
        // Replies to mutating requests, by (principal, request_id): a retry gets the first reply
        // again and changes nothing. Written in the same transaction as the mutation itself.
        """
        CREATE TABLE bridge_requests (principal TEXT NOT NULL, request_id TEXT NOT NULL, reply BLOB NOT NULL,
         at_ms INTEGER NOT NULL, PRIMARY KEY (principal, request_id))
        """,
        "CREATE INDEX bridge_requests_age ON bridge_requests(at_ms)",
        // A task that failed waits here until not_before_ms before it is claimable again (retry backoff).
        "CREATE TABLE bridge_backoff (task_id TEXT PRIMARY KEY, not_before_ms INTEGER NOT NULL)",
        "CREATE INDEX bridge_backoff_due ON bridge_backoff(not_before_ms)",
        // Claiming picks the best ready task of one lane: this index makes that a range scan, O(log n).
        // Its implicit last column is the rowid, the insertion order that breaks ties within a second
        // (Hermes' created_at has whole seconds only).
        "CREATE INDEX IF NOT EXISTS bridge_idx_tasks_claim ON tasks(assignee, status, priority DESC, created_at)",
    ]

    /// CURVE: a lane may be known by its public key instead of (or besides) its token (migration
    /// "bridge-v2-lane-curve-key").
    static let bridgeV2 = [
        "ALTER TABLE bridge_lanes ADD COLUMN curve_public_key TEXT",
        "CREATE UNIQUE INDEX bridge_lanes_curve_key ON bridge_lanes(curve_public_key) WHERE curve_public_key IS NOT NULL",
    ]

    /// The workspaces the dispatcher made (migration "bridge-v3-workspaces"): the only directories the
    /// coordinator ever removes, by the path recorded here, never one recomputed from a board value.
    static let bridgeV3 = [
        """
        CREATE TABLE bridge_workspaces (lane TEXT NOT NULL, task_id TEXT NOT NULL, path TEXT NOT NULL,
         policy TEXT NOT NULL, repo TEXT, branch TEXT, created_at_ms INTEGER NOT NULL, PRIMARY KEY (lane, task_id))
        """,
    ]

    /// What a stored reply answered (`Request.replayScope`), so a `request_id` reused for another
    /// request is refused instead of answered with the first reply (migration "bridge-v4-request-scope").
    static let bridgeV4 = ["ALTER TABLE bridge_requests ADD COLUMN scope TEXT"]

    /// A lane's `memory` setting (shared, propose, read-only; NULL follows its max_concurrency) and the
    /// lane that reviews its runs' proposals (migration "bridge-v5-lane-memory").
    static let bridgeV5 = ["ALTER TABLE bridge_lanes ADD COLUMN memory TEXT", "ALTER TABLE bridge_lanes ADD COLUMN memory_owner TEXT"]

    /// Hermes 0.19's columns. An attached board missing any is refused: the bridge reads or writes most
    /// of them, and Hermes' own indexes (created above, `IF NOT EXISTS`) name the rest.
    static let requiredColumns: [String: [String]] = [
        "tasks": ["id", "title", "body", "assignee", "status", "priority", "created_by", "created_at", "started_at",
                  "completed_at", "workspace_kind", "workspace_path", "branch_name", "project_id", "claim_lock",
                  "claim_expires", "tenant", "result", "idempotency_key", "consecutive_failures", "worker_pid",
                  "last_failure_error", "max_runtime_seconds", "last_heartbeat_at", "current_run_id",
                  "workflow_template_id", "current_step_key", "skills", "model_override", "max_retries", "goal_mode",
                  "goal_max_turns", "session_id", "block_kind", "block_recurrences"],
        "task_links": ["parent_id", "child_id"],
        "task_events": ["id", "task_id", "run_id", "kind", "payload", "created_at"],
        "task_runs": ["id", "task_id", "profile", "step_key", "status", "claim_lock", "claim_expires", "worker_pid",
                      "max_runtime_seconds", "last_heartbeat_at", "started_at", "ended_at", "outcome", "summary",
                      "metadata", "error"],
    ]

    /// Refuses, without writing anything, a file that holds tables but no Hermes board, or a Hermes
    /// board older than the columns above. Returns the tables found.
    static func check(_ db: Database, path: String) throws -> Set<String> {
        let tables = try Set(String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type='table'"))
        let userTables = tables.filter { !$0.hasPrefix("sqlite_") }
        if !userTables.isEmpty && !userTables.contains("tasks") {
            throw BoardError.incompatibleBoard(
                "\(path) is an SQLite file but not a Hermes Kanban board (no 'tasks' table; it has: "
                    + userTables.sorted().prefix(5).joined(separator: ", ") + ")")
        }
        guard userTables.contains("tasks") else { return tables }
        var problems: [String] = []
        for (table, columns) in requiredColumns.sorted(by: { $0.key < $1.key }) {
            guard tables.contains(table) else { problems.append("table '\(table)' is missing"); continue }
            let have = try Set(Row.fetchAll(db, sql: "PRAGMA table_info(\(table))").map { $0["name"] as String })
            let missing = columns.filter { !have.contains($0) }
            if !missing.isEmpty { problems.append("table '\(table)' lacks column(s) \(missing.joined(separator: ", "))") }
        }
        if !problems.isEmpty {
            throw BoardError.incompatibleBoard(
                "\(path) is not a Hermes Kanban board this bridge can attach to: " + problems.joined(separator: "; ")
                    + ". Open it once with `hermes kanban init` (Hermes 0.19 or later) to upgrade its schema.")
        }
        return tables
    }

    /// Creates what is missing (Hermes tables on a fresh file, the bridge tables everywhere). Runs in
    /// the caller's IMMEDIATE transaction. `tables` (read before the write lock was taken) is not
    /// trusted for the bridge tables: `migrateBridge` reads their state again under the lock.
    static func create(_ db: Database, tables: Set<String>) throws {
        for sql in hermesDDL { try db.execute(sql: sql) }
        try migrateBridge(db)
    }

    /// Brings the `bridge_*` tables up to date in the caller's transaction, recording each step in
    /// `grdb_migrations` as GRDB's `DatabaseMigrator` does. A board with a step this build does not
    /// know was migrated by a newer bridge and is refused, unchanged.
    static func migrateBridge(_ db: Database) throws {
        let migrator = bridgeMigrator
        if try migrator.hasBeenSuperseded(db) {
            let unknown = try migrator.appliedIdentifiers(db).subtracting(bridgeMigrations.map(\.id)).sorted()
            throw BoardError.incompatibleBoard(
                "the board's bridge tables have migration(s) \(unknown.joined(separator: ", ")) this kanban-bridge does not know; upgrade kanban-bridge")
        }
        // GRDB's own DDL for its table, so the migrator reads and extends it as if it had made it.
        try db.execute(sql: "CREATE TABLE IF NOT EXISTS grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
        try adoptLegacyVersion(db, applied: migrator.appliedIdentifiers(db))
        let applied = try migrator.appliedIdentifiers(db)
        for step in bridgeMigrations where !applied.contains(step.id) {
            try step.migrate(db)
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES (?)", arguments: [step.id])
        }
        try db.execute(sql: "INSERT OR REPLACE INTO bridge_meta (key, value) VALUES ('schema_version', ?)",
                       arguments: [String(bridgeVersion)])
    }

    /// A board made before `grdb_migrations` (releases up to 4efae95) says how far its bridge tables
    /// go in `bridge_meta.schema_version`: its steps are recorded as applied, without running them
    /// again, and only the later ones run. Nothing to do once any migration is recorded.
    private static func adoptLegacyVersion(_ db: Database, applied: Set<String>) throws {
        guard applied.isEmpty, try db.tableExists("bridge_meta") else { return }
        let version = try Int.fetchOne(db, sql: "SELECT CAST(value AS INTEGER) FROM bridge_meta WHERE key = 'schema_version'") ?? 0
        if version > legacyVersions {
            throw BoardError.incompatibleBoard(
                "the board's bridge tables are version \(version), newer than this kanban-bridge (\(bridgeVersion)); upgrade kanban-bridge")
        }
        for step in bridgeMigrations.prefix(max(version, 0)) {
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES (?)", arguments: [step.id])
        }
    }
}
