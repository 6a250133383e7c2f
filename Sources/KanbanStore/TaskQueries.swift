import GRDB
import KanbanModel

/// Tasks and their links, written the way Hermes writes them (same columns, same event kinds).
extension SQLiteBoard {
    static let byIdempotencyKeySQL = """
        SELECT id FROM tasks WHERE idempotency_key = ? AND status != \(TaskStatus.archived.sql) ORDER BY created_at DESC LIMIT 1
        """

    public func createTask(_ spec: TaskSpec, nowMs: Int64) throws -> TaskRecord {
        try write { db in
            // Hermes' idempotency: the newest non-archived task with the key is the answer. Checked
            // inside the write transaction here, so two racing creates cannot both insert.
            if let key = spec.idempotencyKey, let existing = try String.fetchOne(db.cachedStatement(sql: Self.byIdempotencyKeySQL),
                                                                                  arguments: [key]) {
                return try snapshot(in: db, id: existing, nowMs: nowMs)!.record
            }
            let parents = Array(Set(spec.parents)).sorted()
            var parentStatuses: [TaskStatus] = []
            for parent in parents {
                guard let status = try Self.status(db, parent) else { throw BoardError.notFound("unknown parent task '\(parent)'") }
                parentStatuses.append(status)
            }
            let id = try Self.newTaskID(db)
            let (status, created) = TaskLifecycle.create(id: id, spec: spec, parents: parents, parentStatuses: parentStatuses)
            let now = nowMs / 1000
            try db.cachedStatement(sql: """
                INSERT INTO tasks (id, title, body, assignee, status, priority, created_by, created_at, tenant, idempotency_key)
                VALUES (?, ?, ?, ?, ?, ?, 'kanban-bridge', ?, ?, ?)
                """).execute(arguments: [id, spec.title.trimmingCharacters(in: .whitespacesAndNewlines), spec.body, spec.assignee,
                                 status.rawValue, spec.priority, now, spec.tenant, spec.idempotencyKey])
            for parent in parents {
                try db.cachedStatement(sql: "INSERT OR IGNORE INTO task_links (parent_id, child_id) VALUES (?, ?)").execute(arguments: [parent, id])
            }
            try events(db, nowMs).write(created)
            try announce(id, nowMs: nowMs)
            return try snapshot(in: db, id: id, nowMs: nowMs)!.record
        }
    }

    public func task(id: String) throws -> TaskDetail? {
        try read { db in
            guard let task = try snapshot(in: db, id: id, nowMs: 0)?.record else { return nil }
            let runs = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT r.id, r.task_id, r.profile, r.status, r.outcome, r.summary, r.error, r.claim_lock, r.started_at, r.ended_at,
                       c.lane
                FROM task_runs r LEFT JOIN bridge_claims c ON c.run_id = r.id WHERE r.task_id = ? ORDER BY r.id
                """), arguments: [id]).map { row in
                RunRecord(id: row["id"], taskID: row["task_id"], profile: row["profile"], status: row["status"],
                          outcome: row["outcome"], summary: row["summary"], error: row["error"],
                          claimLock: row["claim_lock"], startedAt: row["started_at"] ?? 0, endedAt: row["ended_at"], lane: row["lane"])
            }
            return TaskDetail(task: task, runs: runs)
        }
    }

    public func tasks(status: TaskStatus?, assignee: String?, limit: Int) throws -> [TaskRecord] {
        try read { db in
            var conditions: [String] = []
            var args: StatementArguments = []
            if let status { conditions.append("status = ?"); args += [status.rawValue] }
            if let assignee { conditions.append("assignee = ?"); args += [assignee] }
            let whereSQL = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            args += [limit]
            // Three queries for the whole page, not three per task: a page of 1,000 took 33 ms the
            // other way, and a lane pipelining such pages held up everyone else's requests.
            let rows = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT \(Self.taskColumns) FROM tasks \(whereSQL) ORDER BY priority DESC, created_at ASC, rowid ASC LIMIT ?
                """), arguments: args)
            guard !rows.isEmpty else { return [] }
            let ids = JSONText.encode(.array(rows.map { .string($0[0]) })) ?? "[]"
            var parents: [String: [String]] = [:], children: [String: [String]] = [:]
            for link in try Row.fetchAll(db.cachedStatement(sql: """
                SELECT parent_id, child_id FROM task_links WHERE child_id IN (SELECT value FROM json_each(?)) ORDER BY parent_id
                """), arguments: [ids]) {
                parents[link[1], default: []].append(link[0])
            }
            for link in try Row.fetchAll(db.cachedStatement(sql: """
                SELECT parent_id, child_id FROM task_links WHERE parent_id IN (SELECT value FROM json_each(?)) ORDER BY child_id
                """), arguments: [ids]) {
                children[link[0], default: []].append(link[1])
            }
            return rows.map { row in
                let id: String = row[0]
                return Self.record(row, parents: parents[id] ?? [], children: children[id] ?? [])
            }
        }
    }

    // MARK: Helpers

    /// Hermes' id shape: `t_` + 8 hex digits, retried on the rare collision.
    static func newTaskID(_ db: Database) throws -> String {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<16 {
            let id = "t_" + String(format: "%08x", UInt32.random(in: .min ... .max, using: &rng))
            if try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM tasks WHERE id = ?"), arguments: [id]) != true { return id }
        }
        throw BoardError.conflict("could not allocate a fresh task id")
    }

    static func status(_ db: Database, _ id: String) throws -> TaskStatus? {
        try String.fetchOne(db.cachedStatement(sql: "SELECT status FROM tasks WHERE id = ?"), arguments: [id]).map { TaskStatus(rawValue: $0) ?? .triage }
    }

    /// The columns `record(_:parents:children:)` reads, in its order.
    static let taskColumns = """
        id, title, body, assignee, status, priority, tenant, idempotency_key, created_at, started_at,
        completed_at, result, claim_lock, claim_expires, current_run_id, last_heartbeat_at, max_runtime_seconds
        """

    /// A row of `taskColumns`, read by position (GRDB's lookup by name lowercases every column name):
    /// from a GRDB row (`tasks`) or a prepared statement (`taskSnapshot`).
    static func record(_ row: some ColumnReader, parents: [String], children: [String]) -> TaskRecord {
        TaskRecord(
            id: row.text(0) ?? "", title: row.text(1) ?? "", body: row.text(2), assignee: row.text(3),
            // Statuses written by a newer Hermes that we do not know are shown as triage (never claimable).
            status: row.text(4).flatMap(TaskStatus.init(rawValue:)) ?? .triage, priority: Int(row.int(5)),
            tenant: row.text(6), idempotencyKey: row.text(7), createdAt: row.int(8),
            startedAt: row.optionalInt(9), completedAt: row.optionalInt(10), result: row.text(11),
            claimLock: row.text(12), claimExpires: row.optionalInt(13), currentRunID: row.optionalInt(14),
            lastHeartbeatAt: row.optionalInt(15), maxRuntimeSeconds: row.optionalInt(16).map { Int($0) },
            parents: parents, children: children)
    }
}
