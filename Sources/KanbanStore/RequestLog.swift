import Foundation
import GRDB

/// Replies remembered for safe retries (`bridge_requests`).
extension SQLiteBoard {
    public func savedReply(principal: String, requestID: String, sinceMs: Int64) throws -> (reply: [UInt8], scope: String?)? {
        try read { db in
            let q = try prepared(Hot.savedReply.rawValue, db,
                                 "SELECT reply, scope FROM bridge_requests WHERE principal = ? AND request_id = ? AND at_ms >= ?")
            q.bind(.text(principal), .text(requestID), .int(sinceMs))
            guard try q.next() else { return nil }
            defer { q.reset() }
            return q.blob(0).map { ($0, q.text(1)) }
        }
    }

    public func saveReply(principal: String, requestID: String, scope: String, reply: [UInt8], nowMs: Int64) throws {
        try write { db in
            let q = try prepared(Hot.saveReply.rawValue, db,
                                 "INSERT OR REPLACE INTO bridge_requests (principal, request_id, reply, at_ms, scope) VALUES (?, ?, ?, ?, ?)")
            q.bind(.text(principal), .text(requestID), .blob(reply), .int(nowMs), .text(scope))
            try q.run()
        }
    }

    public func forgetReplies(beforeMs: Int64) throws -> Int {
        try write { db in
            try db.cachedStatement(sql: "DELETE FROM bridge_requests WHERE at_ms < ?").execute(arguments: [beforeMs])
            return db.changesCount
        }
    }
}
