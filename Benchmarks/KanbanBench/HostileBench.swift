import Foundation
import KanbanModel
import KanbanProtocol
import ZeroMQ

/// The hostile scenario (`kanban-bench --hostile`): what an attacker on the same machine costs the
/// coordinator and everyone else. For each attack, on a fresh coordinator: a well-behaved lane's round
/// trips (ping, task.get, heartbeat) while it runs, the coordinator's peak RSS, and its RSS once the
/// attacker has gone. The first row, with no attacker, is the baseline of the same run.
public enum HostileBench {
    public struct Row: Sendable {
        public var attack: String
        public var probe: LatencySummary?
        public var probeFailures: Int
        public var peakRSSKiB: Int?
        public var afterRSSKiB: Int?
    }

    struct Attack {
        let name: String
        /// Starts the attack on its own sockets; returns a closure that ends it (closing them).
        let start: (_ bridge: BridgeProcess, _ board: BenchBoard, _ context: ZMQContext) throws -> () -> Void
    }

    static var attacks: [Attack] { [
        Attack(name: "none (baseline)") { _, _, _ in {} },
        Attack(name: "3,000 task.list of 0.4 MB, never read (lane token)") { bridge, board, context in
            let s = try ZMQSocket(context, .dealer)
            try s.setSendHighWaterMark(0)
            try s.connect(bridge.command)
            let frame = RequestEncoder.encode(.taskList(status: nil, assignee: nil, limit: 1000), auth: board.tokens[BenchBoard.workLane]!)
            for _ in 0..<3000 { try s.send([[], frame]) }
            return { s.close() }
        },
        Attack(name: "400 unauthenticated requests of 1 MB") { bridge, _, context in
            let s = try ZMQSocket(context, .dealer)
            try s.setSendHighWaterMark(0)
            try s.connect(bridge.command)
            let frame = RequestEncoder.encode(.taskCreate(TaskSpec(title: "t", body: String(repeating: "y", count: 1_048_000), priority: 0)),
                                              auth: "lt_nope")
            for _ in 0..<400 { try s.send([[], frame]) }
            return { s.close() }
        },
        Attack(name: "4 floods of 100 unauthenticated pings of 1 MB") { bridge, _, context in
            // A ping needs no credential, so before its size was capped its body was parsed: four of
            // these took the RSS to 165 MB and the probe's p99 to 60 ms.
            let frame = Array(#"{"op":"ping","pad":""#.utf8) + [UInt8](repeating: 0x70, count: 1_048_000) + Array(#""}"#.utf8)
            let sockets = try (0..<4).map { _ in
                let s = try ZMQSocket(context, .dealer)
                try s.setSendHighWaterMark(0)
                try s.connect(bridge.command)
                return s
            }
            for _ in 0..<100 { for s in sockets { try s.send([[], frame]) } }
            return { sockets.forEach { $0.close() } }
        },
        Attack(name: "300 heartbeats with a 4 KB note and 4 KB metadata, 100 subscribers that never read") { bridge, board, context in
            var subs: [ZMQSocket] = []
            for _ in 0..<100 {
                let sub = try ZMQSocket(context, .sub)
                try sub.makePlainClient(username: "kanban", password: board.adminToken)
                try sub.subscribe("")
                try sub.connect(bridge.events)
                subs.append(sub)
            }
            let client = try WireClient(context: context, endpoint: bridge.command, auth: board.tokens[BenchBoard.eventLane]!, name: "amp")
            let (task, token) = try client.claimOne(lane: BenchBoard.eventLane)
            let note = String(repeating: "n", count: 4000), blob = String(repeating: "m", count: 4000)
            let heartbeat = Request.heartbeat(ClaimRef(taskID: task, claimToken: token), note: note, metadata: ["blob": .string(blob)])
            for _ in 0..<300 { _ = try client.call(heartbeat) }
            return { subs.forEach { $0.close() } }
        },
        Attack(name: "20,000 messages without a REQ delimiter") { bridge, _, context in
            let s = try ZMQSocket(context, .dealer)
            try s.setSendHighWaterMark(0)
            try s.connect(bridge.command)
            for _ in 0..<20_000 { try s.send([Array("no delimiter".utf8)]) }
            return { s.close() }
        },
    ] }

    public static func run(bridgeBinary: String, workDir: String, probeSeconds: Double, progress: (String) -> Void) throws -> [Row] {
        var rows: [Row] = []
        for (n, attack) in attacks.enumerated() {
            progress("hostile: \(attack.name) …")
            let dir = "\(workDir)/hostile-\(n)"
            let board = try BenchBoard(dir: dir, tasks: 1000)
            let bridge = try BridgeProcess(binary: bridgeBinary, board: board.path, adminToken: board.adminToken, logFile: dir + "/serve.log")
            defer { bridge.stop() }
            let context = ZMQContext()
            let probeLane = board.tokens[BenchBoard.probeLane]!
            let probe = try WireClient(context: context, endpoint: bridge.command, auth: probeLane, name: "probe")
            let (task, token) = try probe.claimOne(lane: BenchBoard.probeLane)
            let stop = try attack.start(bridge, board, context)
            var latencies = Latencies(), failures = 0
            let until = nowNs() + UInt64(probeSeconds * 1e9)
            // Encoded once: the probe loop measures the coordinator, not the encoder. (The ping carries no token.)
            let probes = [RequestEncoder.encode(.ping), RequestEncoder.encode(.taskGet(taskID: task), auth: probeLane),
                          RequestEncoder.encode(.heartbeat(ClaimRef(taskID: task, claimToken: token), note: nil, metadata: nil), auth: probeLane)]
            while nowNs() < until {
                for frame in probes {
                    let t0 = nowNs()
                    let reply = try probe.call(frame: frame)
                    latencies.add(nowNs() - t0)
                    if !ReplyScan.isOK(reply) { failures += 1 }
                }
                usleep(10_000)
            }
            let peak = bridge.peakRSSKiB
            stop()
            usleep(12_000_000)  // the coordinator hands freed memory back every 10 s
            rows.append(Row(attack: attack.name, probe: latencies.summary(), probeFailures: failures, peakRSSKiB: peak,
                            afterRSSKiB: currentRSSKiB(pid: bridge.pid)))
        }
        return rows
    }

    public static func render(_ rows: [Row]) -> String {
        var out = ["### Hostile clients: a well-behaved lane's round trips and the coordinator's memory", "",
                   "| attack | probe n | p50 ms | p99 ms | max ms | p99 vs baseline | failed | peak RSS | RSS after |",
                   "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        let base = rows.first?.probe?.p99
        for r in rows {
            let ratio = base.flatMap { b in r.probe.map { Format.ratio(Double($0.p99) / Double(max(b, 1))) } } ?? "-"
            out.append("| \(r.attack) | \(r.probe?.count ?? 0) | \(Format.ms(r.probe?.p50)) | \(Format.ms(r.probe?.p99)) | "
                       + "\(Format.ms(r.probe?.max)) | \(ratio) | \(r.probeFailures) | \(Format.mib(r.peakRSSKiB)) | \(Format.mib(r.afterRSSKiB)) |")
        }
        out += ["", "Goal under each attack: the probe's p99 under 50 ms, peak RSS under 150 MB, memory back after the attacker leaves.", ""]
        return out.joined(separator: "\n")
    }
}
