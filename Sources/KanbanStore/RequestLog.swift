import Foundation
import GRDB

/// Replies remembered for safe retries (`bridge_requests`).
extension SQLiteBoard {
    public func savedReply(principal: String, requestID: String, sinceMs: Int64) throws -> [UInt8]? {
        try read { db in
            try Data.fetchOne(db.cachedStatement(sql: "SELECT reply FROM bridge_requests WHERE principal = ? AND request_id = ? AND at_ms >= ?"),
                              arguments: [principal, requestID, sinceMs]).map { Array($0) }
        }
    }

    public func saveReply(principal: String, requestID: String, reply: [UInt8], nowMs: Int64) throws {
        try write { db in
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO bridge_requests (principal, request_id, reply, at_ms) VALUES (?, ?, ?, ?)").execute(
                           arguments: [principal, requestID, Data(reply), nowMs])
        }
    }

    public func forgetReplies(beforeMs: Int64) throws -> Int {
        try write { db in
            try db.cachedStatement(sql: "DELETE FROM bridge_requests WHERE at_ms < ?").execute(arguments: [beforeMs])
            return db.changesCount
        }
    }
}
