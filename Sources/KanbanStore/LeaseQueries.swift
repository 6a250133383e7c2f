import GRDB
import KanbanModel

/// The stored side of leases. Stored expiries are wall-clock (Hermes reads `claim_expires`, a
/// restart reads `lease_expires_ms`); the coordinator decides when a lease ends on monotonic time
/// (`LeaseDeadlines`) and restates these after the host's wall clock was stepped.
extension SQLiteBoard {
    public func openClaims() throws -> [ClaimState] {
        try read { db in
            let q = try prepared(Hot.openClaims.rawValue, db, """
                SELECT \(Self.claimColumns) FROM bridge_claims WHERE ended_at_ms IS NULL ORDER BY lease_expires_ms
                """)
            var open: [ClaimState] = []
            while try q.next() { open.append(Self.claimRow(q)) }
            return open
        }
    }

    public func restateLeases(_ expiries: [(runID: Int64, expiresMs: Int64)], backoffShiftMs: Int64) throws {
        try write { db in
            let claim = try db.cachedStatement(sql: "UPDATE bridge_claims SET lease_expires_ms = ? WHERE run_id = ? AND ended_at_ms IS NULL")
            let run = try db.cachedStatement(sql: "UPDATE task_runs SET claim_expires = ? WHERE id = ? AND ended_at IS NULL")
            let task = try db.cachedStatement(sql: Self.restateTaskSQL)
            for (runID, expiresMs) in expiries {
                let hermes = Lease.hermesSeconds(fromMs: expiresMs)
                try claim.execute(arguments: [expiresMs, runID])
                try run.execute(arguments: [hermes, runID])
                try task.execute(arguments: [hermes, runID, runID])
            }
            if backoffShiftMs != 0 {
                try db.cachedStatement(sql: "UPDATE bridge_backoff SET not_before_ms = not_before_ms + ?").execute(arguments: [backoffShiftMs])
                timers.fired()
            }
        }
    }

    /// Only while the task still carries this claim (`LiveClaim.carried`): Hermes may have taken it
    /// back meanwhile. Parameters: the expiry, the run (twice).
    static let restateTaskSQL = """
        UPDATE tasks SET claim_expires = ? WHERE current_run_id = ?
          AND EXISTS (SELECT 1 FROM bridge_claims c WHERE c.run_id = ? AND \(LiveClaim.carriedSQL(claim: "c", task: "tasks")))
        """
}
