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
                try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM bridge_lanes WHERE kind IN ('spawn', 'pool') ORDER BY name"))
                    .map(Self.lane(from:))
            }
            spawnedLanes = lanes
        }
        if lanes.isEmpty { return [] }
        return try read { db in
            try lanes.compactMap { lane in
                let hasWork = try Bool.fetchOne(db.cachedStatement(sql: """
                    SELECT EXISTS (SELECT 1 FROM tasks WHERE assignee = ? AND status = 'ready')
                    """), arguments: [lane.name]) ?? false
                guard hasWork else { return nil }
                let running = try Int.fetchOne(db.cachedStatement(sql: """
                    SELECT COUNT(*) FROM bridge_claims WHERE lane = ? AND ended_at_ms IS NULL
                    """), arguments: [lane.name]) ?? 0
                return (lane, running)
            }
        }
    }
}
