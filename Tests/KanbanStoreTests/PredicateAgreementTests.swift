import Foundation
import GRDB
import KanbanModel
@testable import KanbanStore
import XCTest

/// Each board predicate is defined once (BoardPredicates.swift) with a Swift test and an SQL fragment.
/// Here both run on generated boards in a real SQLite file, and must pick the same rows; so must the
/// store's own queries built from the fragments (`liveClaimCount`, `isClaimLive`, snapshots,
/// `nextCandidate`, `spawnableLanes`). SQLite-only: the boards are written as Hermes would, with SQL.
///
/// A failure names its seed; `KANBAN_PREDICATE_SEED=<n>` replays that board alone.
final class PredicateAgreementTests: XCTestCase {
    static let lanes = ["a", "b"]
    static let nowMs: Int64 = 1_800_000_000_000

    func test_swiftAndSQL_pickTheSameRows_onGeneratedBoards() throws {
        let seeds: [UInt64] = ProcessInfo.processInfo.environment["KANBAN_PREDICATE_SEED"].flatMap(UInt64.init).map { [$0] }
            ?? Array(1...60)
        var seen = Coverage()
        for seed in seeds {
            let board = try GeneratedBoard(seed: seed)
            try check(board, seed: seed, coverage: &seen)
        }
        // The generator must reach every case the predicates tell apart, or agreement proves little.
        if seeds.count > 1 {
            XCTAssertGreaterThan(seen.liveClaims, 0, "no board had a live claim")
            XCTAssertGreaterThan(seen.lostClaims, 0, "no board had an open claim its task no longer carries")
            XCTAssertGreaterThan(seen.claimable, 0, "no board had a claimable task")
            XCTAssertGreaterThan(seen.readyWithUnfinishedParent, 0, "no board had a ready task held back by a parent")
            XCTAssertGreaterThan(seen.wrongLock, 0, "no board had a running task under another lock than its claim's")
        }
    }

    struct Coverage {
        var liveClaims = 0, lostClaims = 0, claimable = 0, readyWithUnfinishedParent = 0, wrongLock = 0
    }

    private func check(_ g: GeneratedBoard, seed: UInt64, coverage: inout Coverage) throws {
        let raw = g.raw
        let tasks = try raw.queue.read { db in
            try Row.fetchAll(db, sql: "SELECT id, status, claim_lock, current_run_id, assignee, priority FROM tasks ORDER BY created_at, rowid")
        }.map { TaskRow(id: $0[0], status: TaskStatus(rawValue: $0[1])!, claimLock: $0[2], currentRunID: $0[3], assignee: $0[4], priority: $0[5]) }
        let byID = Dictionary(uniqueKeysWithValues: tasks.map { ($0.id, $0) })
        let links = try raw.queue.read { db in try Row.fetchAll(db, sql: "SELECT parent_id, child_id FROM task_links") }
            .map { (parent: $0[0] as String, child: $0[1] as String) }
        let claims = try raw.queue.read { db in
            try Row.fetchAll(db, sql: "SELECT run_id, task_id, lane, ended_at_ms, lease_expires_ms FROM bridge_claims")
        }.map { ClaimRow(runID: $0[0], taskID: $0[1], lane: $0[2], ended: ($0[3] as Int64?) != nil, leaseExpiresMs: $0[4]) }
        let context = "seed \(seed)"

        // Live claim.
        func live(_ c: ClaimRow) -> Bool {
            let t = byID[c.taskID]
            return LiveClaim.holds(ended: c.ended, lane: c.lane, runID: c.runID, taskStatus: t?.status,
                                   taskCurrentRunID: t?.currentRunID, taskClaimLock: t?.claimLock)
        }
        let liveSwift = Set(claims.filter(live).map(\.runID))
        let liveSQL = try ids(raw, "SELECT c.run_id FROM bridge_claims c JOIN tasks t ON t.id = c.task_id WHERE \(LiveClaim.sql(claim: "c", task: "t"))")
        XCTAssertEqual(liveSQL, liveSwift, "live claims, \(context)")
        for c in claims {
            XCTAssertEqual(try g.board.isClaimLive(runID: c.runID), liveSwift.contains(c.runID), "isClaimLive(\(c.runID)), \(context)")
        }
        for lane in Self.lanes {
            let count = claims.filter { $0.lane == lane && live($0) }.count
            XCTAssertEqual(try g.board.liveClaimCount(lane: lane), count, "liveClaimCount(\(lane)), \(context)")
        }
        // The dispatcher counts a lane's running workers with the same rule as a claim's admission.
        for (lane, running) in try g.board.spawnableLanes() {
            XCTAssertEqual(running, claims.filter { $0.lane == lane.name && live($0) }.count, "spawnableLanes(\(lane.name)), \(context)")
        }
        // Carried, as the retirement of lost claims asks it (bare `bridge_claims`, no alias).
        let lostSwift = Set(claims.filter { c in
            let t = byID[c.taskID]
            return !LiveClaim.carried(lane: c.lane, runID: c.runID, taskStatus: t?.status, taskCurrentRunID: t?.currentRunID,
                                      taskClaimLock: t?.claimLock)
        }.map(\.runID))
        let lostSQL = try ids(raw, """
            SELECT run_id FROM bridge_claims WHERE NOT EXISTS (
              SELECT 1 FROM tasks t WHERE t.id = bridge_claims.task_id AND \(LiveClaim.carriedSQL(claim: "bridge_claims", task: "t")))
            """)
        XCTAssertEqual(lostSQL, lostSwift, "claims their task no longer carries, \(context)")
        coverage.liveClaims += liveSwift.count
        coverage.lostClaims += claims.filter { !$0.ended && lostSwift.contains($0.runID) }.count
        coverage.wrongLock += claims.filter { c in
            guard let t = byID[c.taskID] else { return false }
            return t.status == .running && t.currentRunID == c.runID && t.claimLock != ClaimLock.make(lane: c.lane, runID: c.runID)
        }.count

        // The claim lock, in SQL and in Swift.
        let locks = try raw.queue.read { db in
            try Row.fetchAll(db, sql: "SELECT lane, run_id, \(ClaimLock.sql(lane: "lane", runID: "run_id")) FROM bridge_claims")
        }
        for row in locks {
            let lane: String = row[0], run: Int64 = row[1], lock: String = row[2]
            XCTAssertEqual(lock, ClaimLock.make(lane: lane, runID: run), context)
            XCTAssertEqual(ClaimLock.parse(lock)?.lane, lane, context)
            XCTAssertEqual(ClaimLock.parse(lock)?.runID, run, context)
        }

        // Ready and unlocked; parents finished; claimable.
        let unclaimedSwift = Set(tasks.filter { UnclaimedReady.holds(status: $0.status, claimLock: $0.claimLock) }.map(\.id))
        XCTAssertEqual(try texts(raw, "SELECT id FROM tasks WHERE \(UnclaimedReady.sql())"), unclaimedSwift, "ready and unlocked, \(context)")
        func parentsFinished(_ id: String) -> Bool {
            // A link to a task that no longer exists holds nobody back.
            ParentsFinished.holds(parentStatuses: links.filter { $0.child == id }.compactMap { byID[$0.parent]?.status })
        }
        let finishedSwift = Set(tasks.filter { parentsFinished($0.id) }.map(\.id))
        XCTAssertEqual(try texts(raw, "SELECT id FROM tasks WHERE NOT \(ParentsFinished.unfinishedParentSQL(childID: "tasks.id"))"),
                       finishedSwift, "parents finished, \(context)")
        let claimableSwift = Set(tasks.filter {
            Readiness.isClaimable(status: $0.status, claimLock: $0.claimLock, parentsFinished: parentsFinished($0.id))
        }.map(\.id))
        XCTAssertEqual(try texts(raw, """
            SELECT id FROM tasks WHERE \(UnclaimedReady.sql()) AND NOT \(ParentsFinished.unfinishedParentSQL(childID: "tasks.id"))
            """), claimableSwift, "claimable, \(context)")
        coverage.claimable += claimableSwift.count
        coverage.readyWithUnfinishedParent += unclaimedSwift.subtracting(finishedSwift).count
        for t in tasks {
            let snapshot = try XCTUnwrap(try g.board.taskSnapshot(id: t.id, nowMs: Self.nowMs), context)
            XCTAssertEqual(snapshot.state.parentsFinished, parentsFinished(t.id), "snapshot of \(t.id), \(context)")
        }
        // The lane's candidate: the best ready, unlocked task (no backoffs on these boards).
        for lane in Self.lanes {
            let ready = tasks.filter { $0.assignee == lane && unclaimedSwift.contains($0.id) }  // oldest first
            let top = ready.map(\.priority).max()
            let best = ready.first { $0.priority == top }
            XCTAssertEqual(try g.board.nextCandidate(lane: lane, nowMs: Self.nowMs)?.record.id, best?.id, "nextCandidate(\(lane)), \(context)")
        }

        // A claim-scoped write's guard, for each lock the board holds.
        for lock in Set(tasks.compactMap(\.claimLock)) {
            let swift = Set(tasks.filter { RunningUnder.holds(status: $0.status, claimLock: $0.claimLock, lock: lock) }.map(\.id))
            let sql = try raw.queue.read { db in
                Set(try String.fetchAll(db, sql: "SELECT id FROM tasks WHERE \(RunningUnder.sql())", arguments: [lock]))
            }
            XCTAssertEqual(sql, swift, "running under \(lock), \(context)")
        }

        // Spawned lanes.
        let spawnedSQL = try texts(raw, "SELECT name FROM bridge_lanes WHERE \(SpawnedLane.sql())")
        let spawnedSwift = Set(try g.board.lanes().filter { $0.lane.kind.isSpawned }.map(\.lane.name))
        XCTAssertEqual(spawnedSQL, spawnedSwift, context)

        // Liveness refresh (it writes: last). Every task's heartbeat is unset on these boards, so each
        // task on the run of a live claim whose lease still runs is refreshed, and no other.
        let unexpired = Set(claims.filter { live($0) && $0.leaseExpiresMs > Self.nowMs }.map(\.runID))
        let refreshedSwift = Set(tasks.filter { $0.currentRunID.map(unexpired.contains) == true }.map(\.id))
        XCTAssertEqual(try g.board.refreshLiveness(nowMs: Self.nowMs, staleAfterS: 60), refreshedSwift.count, "refreshLiveness, \(context)")
        XCTAssertEqual(try texts(raw, "SELECT id FROM tasks WHERE last_heartbeat_at IS NOT NULL"), refreshedSwift, "refreshed tasks, \(context)")
    }

    private func ids(_ raw: SQLiteBoardRaw, _ sql: String) throws -> Set<Int64> {
        try raw.queue.read { db in Set(try Int64.fetchAll(db, sql: sql)) }
    }

    private func texts(_ raw: SQLiteBoardRaw, _ sql: String) throws -> Set<String> {
        try raw.queue.read { db in Set(try String.fetchAll(db, sql: sql)) }
    }

    struct TaskRow {
        var id: String
        var status: TaskStatus
        var claimLock: String?
        var currentRunID: Int64?
        var assignee: String?
        var priority: Int
    }

    struct ClaimRow {
        var runID: Int64
        var taskID: String
        var lane: String
        var ended: Bool
        var leaseExpiresMs: Int64
    }
}

/// A random board: tasks in every status, with bridge locks right and wrong, Hermes host locks, run
/// ids that match their claims or not, links (to tasks that exist or not), claims open and ended.
struct GeneratedBoard {
    let fixture: BoardFixture
    let raw: SQLiteBoardRaw
    var board: any BoardStore { fixture.board }

    init(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        fixture = try BoardFixture.sqlite()
        fixture.nowMs = PredicateAgreementTests.nowMs
        _ = try fixture.board.registerLane(Lane(name: "a", maxConcurrency: 4), tokenHash: Secrets.hash("lt_a"), nowMs: fixture.nowMs)
        _ = try fixture.board.registerLane(Lane(name: "b", kind: .pool, maxConcurrency: 4, command: ["true"]), tokenHash: Secrets.hash("lt_b"),
                                       nowMs: fixture.nowMs)
        raw = try SQLiteBoardRaw(path: fixture.path)
        let taskCount = 1 + rng.below(12)
        let runs: [Int64] = Array(1...8)
        let ids = (0..<taskCount).map { "t_\(seed)_\($0)" }
        var sql: [String] = []
        func quoted(_ s: String?) -> String { s.map { "'\($0)'" } ?? "NULL" }
        for (i, id) in ids.enumerated() {
            let status = TaskStatus.allCases[rng.below(TaskStatus.allCases.count)]
            let lane = PredicateAgreementTests.lanes[rng.below(2)]
            let run = runs[rng.below(runs.count)]
            let lock: String? = switch rng.below(6) {
            case 0, 1: nil
            case 2: ClaimLock.make(lane: lane, runID: run)
            case 3: ClaimLock.make(lane: lane, runID: runs[rng.below(runs.count)])
            case 4: "vm:\(rng.below(9000))"  // a Hermes worker's host lock
            default: ClaimLock.make(lane: PredicateAgreementTests.lanes[rng.below(2)], runID: run)
            }
            let currentRun: Int64? = rng.below(4) == 0 ? nil : (rng.below(3) == 0 ? runs[rng.below(runs.count)] : run)
            let assignee: String? = rng.below(5) == 0 ? nil : PredicateAgreementTests.lanes[rng.below(2)]
            sql.append("""
                INSERT INTO tasks (id, title, assignee, status, priority, created_at, claim_lock, claim_expires, current_run_id)
                VALUES ('\(id)', 'generated', \(quoted(assignee)), '\(status.rawValue)', \(rng.below(3)), \(i),
                        \(quoted(lock)), \(rng.below(2) == 0 ? "NULL" : String(1_800_000_000 + rng.below(100))), \(currentRun.map(String.init) ?? "NULL"))
                """)
        }
        for child in ids where rng.below(2) == 0 {
            for _ in 0..<(1 + rng.below(3)) {
                let parent = rng.below(8) == 0 ? "t_gone" : ids[rng.below(ids.count)]
                if parent != child { sql.append("INSERT OR IGNORE INTO task_links (parent_id, child_id) VALUES ('\(parent)', '\(child)')") }
            }
        }
        for run in runs where rng.below(3) != 0 {
            let task = rng.below(10) == 0 ? "t_gone" : ids[rng.below(ids.count)]
            let lane = PredicateAgreementTests.lanes[rng.below(2)]
            let ended = rng.below(4) == 0 ? String(PredicateAgreementTests.nowMs - 1) : "NULL"
            let expires = PredicateAgreementTests.nowMs + Int64(rng.below(120_000)) - 60_000
            sql.append("""
                INSERT INTO bridge_claims (run_id, task_id, lane, token_hash, lease_ms, lease_expires_ms, claimed_at_ms, ended_at_ms)
                VALUES (\(run), '\(task)', '\(lane)', 'h\(seed)_\(run)', 60000, \(expires), \(PredicateAgreementTests.nowMs - 60_000), \(ended))
                """)
        }
        // Some claims whose task carries them exactly: otherwise live claims would be rare.
        for run in runs where rng.below(3) == 0 {
            let task = ids[rng.below(ids.count)]
            let lane = PredicateAgreementTests.lanes[rng.below(2)]
            sql.append("UPDATE tasks SET status = 'running', current_run_id = \(run), claim_lock = '\(ClaimLock.make(lane: lane, runID: run))' WHERE id = '\(task)'")
            sql.append("""
                INSERT OR REPLACE INTO bridge_claims (run_id, task_id, lane, token_hash, lease_ms, lease_expires_ms, claimed_at_ms, ended_at_ms)
                VALUES (\(run), '\(task)', '\(lane)', 'h\(seed)_\(run)', 60000, \(PredicateAgreementTests.nowMs + 60_000), \(PredicateAgreementTests.nowMs), NULL)
                """)
        }
        try raw.queue.write { db in for statement in sql { try db.execute(sql: statement) } }
    }
}

/// A small, fast, seedable generator (SplitMix64), so a failing board can be made again exactly.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }
}
