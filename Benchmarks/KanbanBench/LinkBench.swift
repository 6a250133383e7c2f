import Foundation
import GRDB
import KanbanModel
import KanbanProtocol
import ZeroMQ

/// Issue #19, finding 7, in `kanban-bench --hostile`: what a link, a complete, and a fan-out's release
/// cost at 10,000 links against the same at 10, on one coordinator in the same session. The board's
/// dependency graphs are bulk-inserted (SQL, as BenchBoard does); every measured op goes over the wire.
public enum LinkBench {
    public struct Row: Sendable {
        public var what: String
        public var small: LatencySummary?
        public var large: LatencySummary?
    }

    static let few = 10, many = 10_000, samples = 200

    /// Task numbers of each graph (ids `t_%08x`), far above BenchBoard's.
    struct Graph {
        let base: Int
        var child: String { id(base) }
        func id(_ n: Int) -> String { String(format: "t_%08x", n) }
    }

    public static func run(bridgeBinary: String, workDir: String, progress: (String) -> Void) throws -> [Row] {
        progress("links: building the graphs …")
        let dir = "\(workDir)/links"
        let board = try BenchBoard(dir: dir, tasks: 10)
        let queue = try DatabaseQueue(path: board.path)
        let lane = BenchBoard.workLane
        // Graph numbers: a 10-million block each, so ranges never meet.
        func g(_ k: Int) -> Graph { Graph(base: 0x1000_0000 + k * 0x0100_0000) }
        try queue.write { db in
            func tasks(_ from: Int, _ count: Int, status: String, assignee: String?, priority: Int = 0) throws {
                try db.execute(sql: """
                    WITH RECURSIVE n(x) AS (SELECT ? UNION ALL SELECT x + 1 FROM n WHERE x < ?)
                    INSERT INTO tasks (id, title, assignee, status, priority, created_by, created_at)
                    SELECT printf('t_%08x', x), 'link bench ' || x, ?, ?, ?, 'kanban-bench', 0 FROM n
                    """, arguments: [from, from + count - 1, assignee, status, priority])
            }
            func links(parents from: Int, _ count: Int, child: String) throws {
                try db.execute(sql: """
                    WITH RECURSIVE n(x) AS (SELECT ? UNION ALL SELECT x + 1 FROM n WHERE x < ?)
                    INSERT INTO task_links (parent_id, child_id) SELECT printf('t_%08x', x), ? FROM n
                    """, arguments: [from, from + count - 1, child])
            }
            for (k, n) in [(0, few), (1, many)] {
                // Link: a child with n unfinished parents, and `samples` fresh tasks to link as parents.
                let link = g(k)
                try tasks(link.base, 1, status: "todo", assignee: nil)
                try tasks(link.base + 1, n + samples, status: "ready", assignee: nil)
                try links(parents: link.base + 1, n, child: link.child)
                // Complete of a parent among n: a child with n ready parents the lane claims by name.
                let among = g(2 + k)
                try tasks(among.base, 1, status: "todo", assignee: nil)
                try tasks(among.base + 1, n, status: "ready", assignee: lane, priority: 5)
                try links(parents: among.base + 1, n, child: among.child)
                // A complete that frees one child: 20 children, each with n - 1 done parents and one ready.
                for c in 0..<20 {
                    let frees = Graph(base: g(4 + k).base + c * 0x10000)
                    try tasks(frees.base, 1, status: "todo", assignee: nil)
                    try tasks(frees.base + 1, n - 1, status: "done", assignee: nil)
                    try tasks(frees.base + n, 1, status: "ready", assignee: lane, priority: 5)
                    try links(parents: frees.base + 1, n, child: frees.child)
                }
                // A fan-out: one ready parent with n todo children.
                let fan = g(6 + k)
                try tasks(fan.base, 1, status: "ready", assignee: lane, priority: 5)
                try tasks(fan.base + 1, n, status: "todo", assignee: nil)
                try db.execute(sql: """
                    WITH RECURSIVE n(x) AS (SELECT ? UNION ALL SELECT x + 1 FROM n WHERE x < ?)
                    INSERT INTO task_links (parent_id, child_id) SELECT ?, printf('t_%08x', x) FROM n
                    """, arguments: [fan.base + 1, fan.base + n, fan.child])
            }
        }
        try queue.close()
        let bridge = try BridgeProcess(binary: bridgeBinary, board: board.path, adminToken: board.adminToken, logFile: dir + "/serve.log")
        defer { bridge.stop() }
        let context = ZMQContext()
        let admin = try WireClient(context: context, endpoint: bridge.command, auth: board.adminToken, name: "admin")
        let worker = try WireClient(context: context, endpoint: bridge.command, auth: board.tokens[lane]!, name: "worker")
        func timed(_ body: () throws -> [UInt8]) throws -> UInt64 {
            let t0 = nowNs()
            let reply = try body()
            guard ReplyScan.isOK(reply) else { throw BenchError("refused: \(String(decoding: reply.prefix(300), as: UTF8.self))") }
            return nowNs() - t0
        }
        func claimAndComplete(_ task: String) throws -> UInt64 {
            let reply = try worker.call(.claim(ClaimRequest(lane: lane, taskID: task)))
            guard let grant = ReplyScan.grant(reply) else { throw BenchError("no claim of \(task): \(String(decoding: reply.prefix(300), as: UTF8.self))") }
            return try timed { try worker.complete(taskID: grant.taskID, token: grant.token, claimNext: false) }
        }
        var rows = [Row(what: "task.link, per link", small: nil, large: nil),
                    Row(what: "complete of a parent among N (child still waits)", small: nil, large: nil),
                    Row(what: "complete that frees a child of N parents", small: nil, large: nil)]
        for (k, n) in [(0, few), (1, many)] {
            progress("links: \(n) parents …")
            var link = Latencies(), among = Latencies(), frees = Latencies()
            for s in 0..<samples {
                link.add(try timed { try admin.call(.taskLink(parent: g(k).id(g(k).base + 1 + n + s), child: g(k).child)) })
            }
            // 9 of its parents: with 10 the child still waits for the last.
            for s in 0..<9 { among.add(try claimAndComplete(g(2 + k).id(g(2 + k).base + 1 + s))) }
            for c in 0..<20 { frees.add(try claimAndComplete(Graph(base: g(4 + k).base + c * 0x10000).id(g(4 + k).base + c * 0x10000 + n))) }
            let set: (inout Row, Latencies) -> Void = { row, l in if k == 0 { row.small = l.summary() } else { row.large = l.summary() } }
            set(&rows[0], link); set(&rows[1], among); set(&rows[2], frees)
        }
        // The fan-out: pings every millisecond from another client while the complete promotes N children.
        let pinger = try WireClient(context: context, endpoint: bridge.command, auth: board.adminToken, name: "pinger")
        let ping = RequestEncoder.encode(.ping)
        var fan = Row(what: "ping during a complete that releases N children (loop hold)", small: nil, large: nil)
        var idle = Latencies()
        for _ in 0..<300 { let t0 = nowNs(); _ = try pinger.call(frame: ping); idle.add(nowNs() - t0); usleep(1000) }
        var completeTimes: [UInt64] = []
        for (k, _) in [(0, few), (1, many)] {
            let probe = PingProbe()
            let (endpoint, token) = (bridge.command, board.adminToken)
            let thread = Thread { probe.run(context: context, endpoint: endpoint, token: token) }
            thread.start()
            usleep(100_000)
            completeTimes.append(try claimAndComplete(g(6 + k).child))
            usleep(2_000_000)  // the later batches
            let pings = probe.finish()
            if k == 0 { fan.small = pings.summary() } else { fan.large = pings.summary() }
        }
        rows.append(fan)
        rows.append(Row(what: "the complete itself, releasing N children", small: LatencySummary([completeTimes[0]]), large: LatencySummary([completeTimes[1]])))
        rows.append(Row(what: "ping on the idle coordinator (baseline)", small: idle.summary(), large: idle.summary()))
        return rows
    }

    public static func render(_ rows: [Row]) -> String {
        var out = ["### Dependencies at 10 and at 10,000 links (issue #19, finding 7)", "",
                   "| op | n | p50 ms at 10 | p50 ms at 10,000 | ratio | max ms at 10 | max ms at 10,000 |",
                   "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in rows {
            let ratio = r.small.flatMap { s in r.large.map { Format.ratio(Double($0.p50) / Double(max(s.p50, 1))) } } ?? "-"
            out.append("| \(r.what) | \(r.large?.count ?? 0) | \(Format.ms(r.small?.p50)) | \(Format.ms(r.large?.p50)) | \(ratio) | "
                       + "\(Format.ms(r.small?.max)) | \(Format.ms(r.large?.max)) |")
        }
        out += ["", "Goal: a link, and a complete that frees one child, cost the same at 10,000 as at 10 (ratio near 1); "
                + "no ping waits past the loop's 50 ms budget while 10,000 children are released.", ""]
        return out.joined(separator: "\n")
    }
}

/// Pings every millisecond on a client of its own until `finish`, which returns the round trips.
final class PingProbe: @unchecked Sendable {
    private let lock = NSLock()
    private var samples = Latencies()
    private var stopped = false
    private let finished = DispatchSemaphore(value: 0)

    func run(context: ZMQContext, endpoint: String, token: String) {
        defer { finished.signal() }
        guard let client = try? WireClient(context: context, endpoint: endpoint, auth: token, name: "probe") else { return }
        let ping = RequestEncoder.encode(.ping)
        while !(lock.withLock { stopped }) {
            let t0 = nowNs()
            _ = try? client.call(frame: ping)
            let ns = nowNs() - t0
            lock.withLock { samples.add(ns) }
            usleep(1000)
        }
    }

    func finish() -> Latencies {
        lock.withLock { stopped = true }
        finished.wait()
        return lock.withLock { samples }
    }
}
