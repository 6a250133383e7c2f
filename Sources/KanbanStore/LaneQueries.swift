import GRDB
import KanbanModel

/// The lane registry (`bridge_lanes`).
extension SQLiteBoard {
    public func registerLane(_ lane: Lane, tokenHash: String, nowMs: Int64) throws -> LaneSummary {
        lanesChanged()
        return try write { db in try Self.summary(db, try insertLane(db, lane, tokenHash: tokenHash, nowMs: nowMs)) }
    }

    func insertLane(_ db: Database, _ lane: Lane, tokenHash: String, nowMs: Int64) throws -> Lane {
        if try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM bridge_lanes WHERE name = ?"), arguments: [lane.name]) == true {
            throw BoardError.conflict("lane '\(lane.name)' is already registered; use lane.update or lane.rotate-token")
        }
        try Self.refuseTakenCurveKey(db, lane)
        let now = nowMs / 1000
        var l = lane
        l.createdAt = now
        l.updatedAt = now
        try db.cachedStatement(sql: """
            INSERT INTO bridge_lanes (name, kind, claim_mode, max_concurrency, lease_seconds, allowed_status_mutations,
              command, profile, workspace_policy, repo, max_runtime_seconds, keep_workspaces, curve_public_key, memory,
              memory_owner, token_hash, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: Self.laneArguments(l) + [tokenHash, now, now])
        try events(db, nowMs).published(EventKind.laneRegistered.rawValue, taskID: nil, lane: l.name,
                                                        data: ["kind": .string(l.kind.rawValue)])
        return l
    }

    public func updateLane(name: String, patch: LanePatch, nowMs: Int64) throws -> LaneSummary {
        lanesChanged()
        return try write { db in
            guard let current = try Self.fetchLane(db, name) else { throw BoardError.notFound("no lane named '\(name)'") }
            var l = patch.applied(to: current)
            l.updatedAt = nowMs / 1000
            try rewriteLane(db, l, nowMs: nowMs)
            return try Self.summary(db, l)
        }
    }

    /// Every setting of `l` (found by its name), with a `lane_updated` event.
    func rewriteLane(_ db: Database, _ l: Lane, nowMs: Int64) throws {
        try Self.refuseTakenCurveKey(db, l)
        try db.cachedStatement(sql: """
            UPDATE bridge_lanes SET name = ?, kind = ?, claim_mode = ?, max_concurrency = ?, lease_seconds = ?,
              allowed_status_mutations = ?, command = ?, profile = ?, workspace_policy = ?, repo = ?,
              max_runtime_seconds = ?, keep_workspaces = ?, curve_public_key = ?, memory = ?,
              memory_owner = ?, updated_at = ?
            WHERE name = ?
            """).execute(arguments: Self.laneArguments(l) + [l.updatedAt, l.name])
        try events(db, nowMs).published(EventKind.laneUpdated.rawValue, taskID: nil, lane: l.name)
    }

    /// One key, one lane: a key shared by two lanes could act as either.
    static func refuseTakenCurveKey(_ db: Database, _ l: Lane) throws {
        guard let key = l.curvePublicKey else { return }
        if let other = try String.fetchOne(db, sql: "SELECT name FROM bridge_lanes WHERE curve_public_key = ? AND name != ?",
                                           arguments: [key, l.name]) {
            throw BoardError.conflict("that CURVE public key already belongs to lane '\(other)'")
        }
    }

    /// The lane whose CURVE public key is `key`, if any.
    public func laneName(forCurveKey key: String) throws -> String? {
        try read { db in try String.fetchOne(db, sql: "SELECT name FROM bridge_lanes WHERE curve_public_key = ?", arguments: [key]) }
    }

    public func defineLane(_ lane: Lane, newTokenHash: String, nowMs: Int64) throws -> Bool {
        lanesChanged()
        return try write { db in
            guard try Self.fetchLane(db, lane.name) != nil else {
                _ = try insertLane(db, lane, tokenHash: newTokenHash, nowMs: nowMs)
                return true
            }
            var l = lane
            l.updatedAt = nowMs / 1000
            try rewriteLane(db, l, nowMs: nowMs)
            return false
        }
    }

    public func unregisteredAssignees() throws -> [(assignee: String, queued: Int, oldestQueuedAt: Int64)] {
        try read { db in
            try Row.fetchAll(db.cachedStatement(sql: Self.unregisteredAssigneesSQL)).map { ($0["assignee"], $0["n"], $0["oldest"]) }
        }
    }

    public func lane(named name: String) throws -> LaneSummary? {
        try read { db in try Self.fetchLane(db, name).map { try Self.summary(db, $0) } }
    }

    /// From memory after the first read: the coordinator is the only writer of `bridge_lanes`, and
    /// every write of it (and every rollback) empties the cache (`lanesChanged`).
    public func laneDefinition(named name: String) throws -> Lane? {
        if let cached = laneCache[name] { return cached }
        let lane = try read { db in try Self.fetchLane(db, name) }
        laneCache[name] = .some(lane)
        return lane
    }

    public func lanes() throws -> [LaneSummary] {
        try read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM bridge_lanes ORDER BY name")).map { try Self.summary(db, Self.lane(from: $0)) }
        }
    }

    public func removeLane(name: String, nowMs: Int64) throws {
        lanesChanged()
        return try write { db in
            guard try Self.fetchLane(db, name) != nil else { throw BoardError.notFound("no lane named '\(name)'") }
            // Removing a lane with live claims would orphan them: their holders could never finish.
            let live = try liveClaimCount(lane: name)
            if live > 0 {
                throw BoardError.conflict("lane '\(name)' holds \(live) live claim(s); let them finish or release them first")
            }
            try db.cachedStatement(sql: "DELETE FROM bridge_lanes WHERE name = ?").execute(arguments: [name])
            try events(db, nowMs).published(EventKind.laneRemoved.rawValue, taskID: nil, lane: name)
        }
    }

    public func rotateLaneToken(name: String, tokenHash: String, nowMs: Int64) throws {
        lanesChanged()
        return try write { db in
            try db.cachedStatement(sql: "UPDATE bridge_lanes SET token_hash = ?, updated_at = ? WHERE name = ?").execute(
                           arguments: [tokenHash, nowMs / 1000, name])
            guard db.changesCount == 1 else { throw BoardError.notFound("no lane named '\(name)'") }
        }
    }

    /// Every request with a lane token asks this. Known tokens are answered from memory (emptied with
    /// the lane cache on every lane write); unknown ones are not remembered, so a stranger trying
    /// tokens cannot grow the cache.
    public func laneName(forTokenHash tokenHash: String) throws -> String? {
        if let lane = laneByTokenHash[tokenHash] { return lane }
        let lane = try read { db in
            try String.fetchOne(db.cachedStatement(sql: "SELECT name FROM bridge_lanes WHERE token_hash = ?"), arguments: [tokenHash])
        }
        if let lane { laneByTokenHash[tokenHash] = lane }
        return lane
    }

    /// Worker tokens are derived from it: every request with a worker token asks (cached like the above).
    public func tokenHash(ofLane name: String) throws -> String? {
        if let hash = tokenHashByLane[name] { return hash }
        let hash = try read { db in
            try String.fetchOne(db.cachedStatement(sql: "SELECT token_hash FROM bridge_lanes WHERE name = ?"), arguments: [name])
        }
        if let hash { tokenHashByLane[name] = hash }
        return hash
    }

    // MARK: Row mapping

    static func fetchLane(_ db: Database, _ name: String) throws -> Lane? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM bridge_lanes WHERE name = ?"), arguments: [name]).map(lane(from:))
    }

    static let unregisteredAssigneesSQL = """
        SELECT assignee, COUNT(*) AS n, MIN(created_at) AS oldest FROM tasks
        WHERE status = \(TaskStatus.ready.sql) AND assignee IS NOT NULL AND assignee NOT IN (SELECT name FROM bridge_lanes)
        GROUP BY assignee ORDER BY assignee
        """

    /// Claims the lane holds that are still live on the board (`LiveClaim`). Joined with `tasks` so a
    /// claim that Hermes took back (reclaim, complete, block by hand) stops counting against the lane
    /// at once. The admission of a claim and the dispatcher's free slots both count with it.
    static let liveClaimsSQL = """
        SELECT COUNT(*) FROM bridge_claims c JOIN tasks t ON t.id = c.task_id
        WHERE c.lane = ? AND \(LiveClaim.sql(claim: "c", task: "t"))
        """

    static let queueSQL = "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM tasks WHERE assignee = ? AND status = \(TaskStatus.ready.sql)"

    static let liveClaimRowsSQL = """
        SELECT c.task_id, c.run_id, c.claimed_at_ms, c.lease_ms, c.lease_expires_ms, t.last_heartbeat_at
        FROM bridge_claims c JOIN tasks t ON t.id = c.task_id
        WHERE c.lane = ? AND \(LiveClaim.sql(claim: "c", task: "t"))
        ORDER BY c.run_id
        """

    static func summary(_ db: Database, _ lane: Lane) throws -> LaneSummary {
        let queue = try Row.fetchOne(db.cachedStatement(sql: queueSQL), arguments: [lane.name])
        let claims = try Row.fetchAll(db.cachedStatement(sql: liveClaimRowsSQL), arguments: [lane.name]).map { row in
            LiveClaimInfo(taskID: row["task_id"], runID: row["run_id"], claimedAtMs: row["claimed_at_ms"], leaseMs: row["lease_ms"],
                          leaseExpiresAtMs: row["lease_expires_ms"], lastHeartbeatAt: row["last_heartbeat_at"])
        }
        return LaneSummary(lane: lane, running: claims.count, queued: queue?["n"] ?? 0, oldestQueuedAt: queue?["oldest"], claims: claims)
    }

    static func laneArguments(_ l: Lane) -> StatementArguments {
        [l.name, l.kind.rawValue, l.claimMode.rawValue, l.maxConcurrency, l.leaseSeconds, l.allowedStatusMutations.rawValue,
         l.command.flatMap { JSONText.encode(.array($0.map { .string($0) })) }, l.profile, l.workspacePolicy.rawValue, l.repo,
         l.maxRuntimeSeconds, l.keepWorkspaces, l.curvePublicKey, l.memory?.rawValue, l.memoryOwner]
    }

    static func lane(from row: Row) -> Lane {
        let command = JSONText.decode(row["command"])?.arrayValue?.compactMap(\.stringValue)
        return Lane(name: row["name"], kind: LaneKind(rawValue: row["kind"]) ?? .persistent,
                    claimMode: ClaimMode(rawValue: row["claim_mode"]) ?? .pullOrWatch,
                    maxConcurrency: row["max_concurrency"], leaseSeconds: row["lease_seconds"],
                    allowedStatusMutations: StatusMutationPolicy(rawValue: row["allowed_status_mutations"]) ?? .ownClaimedOnly,
                    command: command, profile: row["profile"],
                    workspacePolicy: WorkspacePolicy(rawValue: row["workspace_policy"]) ?? .none, repo: row["repo"],
                    maxRuntimeSeconds: row["max_runtime_seconds"], keepWorkspaces: row["keep_workspaces"] ?? false,
                    curvePublicKey: row["curve_public_key"],
                    memory: (row["memory"] as String?).flatMap(MemoryMode.init(rawValue:)), memoryOwner: row["memory_owner"],
                    createdAt: row["created_at"], updatedAt: row["updated_at"])
    }
}
