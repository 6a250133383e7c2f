import GRDB
import KanbanModel

/// What the dispatcher asks many times a second. Each answer is a few index lookups, never a count
/// over a lane's queue: at a million ready tasks a count takes longer than the claims it would serve.
extension SQLiteBoard {
    public func spawnableLanes() throws -> [(lane: Lane, running: Int)] {
        // The spawn and pool lanes come from memory (emptied with the lane cache on every lane write):
        // a board with none asks SQLite nothing.
        let lanes: [Lane]
        if let known = spawnedLanes {
            lanes = known
        } else {
            lanes = try read { db in
                try Row.fetchAll(db.cachedStatement(sql: Self.spawnedLanesSQL))
                    .map(Self.lane(from:))
            }
            spawnedLanes = lanes
        }
        if lanes.isEmpty { return [] }
        return try read { db in
            try lanes.compactMap { lane in
                let hasWork = try Bool.fetchOne(db.cachedStatement(sql: Self.hasReadyWorkSQL), arguments: [lane.name]) ?? false
                guard hasWork else { return nil }
                // Live claims, as a claim's admission counts them (`LiveClaim`): a claim Hermes took back
                // frees its slot here at the moment it frees it there, not once the claim is retired.
                let running = try Int.fetchOne(db.cachedStatement(sql: Self.liveClaimsSQL), arguments: [lane.name]) ?? 0
                return (lane, running)
            }
        }
    }

    static let spawnedLanesSQL = "SELECT * FROM bridge_lanes WHERE \(SpawnedLane.sql()) ORDER BY name"
    static let hasReadyWorkSQL = "SELECT EXISTS (SELECT 1 FROM tasks WHERE assignee = ? AND status = \(TaskStatus.ready.sql))"
}
