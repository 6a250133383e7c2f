import Foundation
import ZeroMQ

/// `kanban-bench --instructions`: the coordinator's instructions per task under callgrind, and its
/// floor, the same SQL statements replayed with nothing around them (docs/PERFORMANCE.md,
/// "Instructions per task and the floor").
///
/// For each size (small, large) a fresh board with that many ready tasks is copied, then the
/// coordinator serves it under callgrind with Benchmarks/sqltrace/sqltrace.c preloaded, while one
/// worker claims and then completes with `claim_next` until the board is empty (a `request_id` on
/// every request). The trace of that run is replayed by `kanban-bench replay-sql` on the copy, under
/// callgrind too. Each figure is the large run minus the small one over the difference in tasks, so
/// start-up, shut-down and the statements run once cancel out.
public enum InstructionsBench {
    /// One binary's figures.
    public struct Result: Sendable {
        public var binary: String
        public var small: Run
        public var large: Run
        public var smallTasks: Int
        public var largeTasks: Int

        func perTask(_ value: (Run) -> UInt64) -> Double {
            Callgrind.perTask(small: value(small), large: value(large), smallTasks: smallTasks, largeTasks: largeTasks)
        }
        public var instructionsPerTask: Double { perTask { $0.coordinatorInstructions } }
        public var floorPerTask: Double { perTask { $0.replayInstructions } }
        public var statementsPerTask: Double { perTask { UInt64($0.statements) } }
        public var stepsPerTask: Double { perTask { UInt64($0.steps) } }
        /// Steps of the replays that returned other than the coordinator's did (should be 0).
        public var mismatches: Int { small.mismatches + large.mismatches }
    }

    /// One size's run of one binary.
    public struct Run: Sendable {
        public var coordinatorInstructions: UInt64
        public var replayInstructions: UInt64
        public var statements: Int
        public var steps: Int
        public var mismatches: Int
    }

    /// The shim's source, beside this file's directory in the repository.
    static let shimSource = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("sqltrace/sqltrace.c").path

    /// Measures each binary in turn (the first is the one under test, the others its comparisons).
    public static func run(binaries: [String], smallTasks: Int, largeTasks: Int, workDir: String,
                           progress: @escaping (String) -> Void) throws -> [Result] {
        for tool in ["valgrind", "strip", "cc"] where (try? Callgrind.runTool(["which", tool])) == nil {
            throw BenchError("\(tool) not found: apt-get install valgrind binutils gcc")
        }
        guard FileManager.default.fileExists(atPath: shimSource) else {
            throw BenchError("no \(shimSource): --instructions compiles the SQL trace shim from the source tree")
        }
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let shim = workDir + "/sqltrace.so"
        try Callgrind.runTool(["cc", "-O2", "-shared", "-fPIC", "-o", shim, shimSource, "-ldl"])
        // The replayer is this very program, stripped for valgrind like the coordinator.
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let replayer = try Callgrind.strippedCopy(of: me, in: workDir)
        var results: [Result] = []
        for (n, binary) in binaries.enumerated() {
            let dir = "\(workDir)/\(n + 1)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let bridge = try Callgrind.strippedCopy(of: binary, in: dir)
            var runs: [Run] = []
            for tasks in [smallTasks, largeTasks] {
                let run = try measure(bridge: bridge, replayer: replayer, shim: shim, tasks: tasks, dir: "\(dir)/\(tasks)")
                progress("\(binary), \(tasks) tasks: coordinator \(run.coordinatorInstructions) Ir, its SQL replayed "
                         + "\(run.replayInstructions) Ir, \(run.statements) statements")
                runs.append(run)
            }
            results.append(Result(binary: binary, small: runs[0], large: runs[1], smallTasks: smallTasks, largeTasks: largeTasks))
        }
        return results
    }

    /// One size: the coordinator's run (recording its SQL), then the replay of that SQL.
    static func measure(bridge: String, replayer: String, shim: String, tasks: Int, dir: String) throws -> Run {
        let board = try BenchBoard(dir: dir, tasks: tasks)
        // The board as it was before the coordinator touched it, for the replay (closed boards have
        // no -wal file after the last connection's checkpoint; copy one if it is there anyway).
        let before = dir + "/replay.db"
        for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: board.path + suffix) {
            try FileManager.default.copyItem(atPath: board.path + suffix, toPath: before + suffix)
        }
        let trace = dir + "/sql.trace"
        let profile = dir + "/coordinator.callgrind"
        let coordinator = try BridgeProcess(
            binary: bridge, board: board.path, adminToken: board.adminToken, logFile: dir + "/serve.log",
            launcher: Callgrind.command([], outFile: profile, toggleCollect: ["sqltrace_emit"]),
            environment: ["LD_PRELOAD": shim, "KANBAN_SQLTRACE": trace],
            startTimeoutMs: 600_000, pingIntervalMs: 2_000)
        let done = try drive(endpoint: coordinator.command, board: board)
        coordinator.stop()
        guard done == tasks else { throw BenchError("the worker completed \(done) tasks of \(tasks)") }
        let coordinatorInstructions = try instructions(in: profile)

        guard let traceBytes = FileManager.default.contents(atPath: trace) else { throw BenchError("no SQL trace at \(trace)") }
        let program = try SQLReplayProgram(events: SQLTrace.parse(Array(traceBytes)))
        let replayProfile = dir + "/replay.callgrind"
        let output = try Callgrind.runTool(Callgrind.command(
            [replayer, "replay-sql", "--trace", trace, "--board", before], outFile: replayProfile,
            toggleCollect: [SQLReplay.measuredFunctionPattern], collectAtStart: false))
        guard let outcome = ReplayCommand.parseOutcome(output) else { throw BenchError("replay-sql said: \(output.suffix(2000))") }
        guard outcome.steps == program.steps else { throw BenchError("replay ran \(outcome.steps) steps of \(program.steps)") }
        return Run(coordinatorInstructions: coordinatorInstructions, replayInstructions: try instructions(in: replayProfile),
                   statements: program.statements, steps: program.steps, mismatches: outcome.mismatches)
    }

    static func instructions(in profile: String) throws -> UInt64 {
        guard let text = try? String(contentsOfFile: profile, encoding: .utf8), let total = Callgrind.totalInstructions(profile: text) else {
            throw BenchError("no instruction total in \(profile)")
        }
        return total
    }

    /// One worker: claim, then complete with claim_next until nothing is granted. No heartbeat
    /// probe (LifecycleBench's would add work in proportion to wall time, which valgrind stretches).
    static func drive(endpoint: String, board: BenchBoard) throws -> Int {
        let client = try WireClient(context: ZMQContext(), endpoint: endpoint, auth: board.tokens[BenchBoard.workLane]!,
                                    name: "ir", replyTimeoutMs: 600_000)
        var grant = ReplyScan.grant(try client.claim(lane: BenchBoard.workLane))
        var done = 0
        while let current = grant {
            let reply = try client.complete(taskID: current.taskID, token: current.token, claimNext: true)
            guard ReplyScan.isOK(reply) else { throw BenchError("complete failed: \(String(decoding: reply.prefix(300), as: UTF8.self))") }
            done += 1
            grant = ReplyScan.grant(reply)
        }
        return done
    }

    /// The figures as Markdown: a table, one line a binary, and the ratios to the first binary.
    public static func render(_ results: [Result]) -> String {
        func m(_ x: Double) -> String { String(format: "%.3f M", x / 1e6) }
        func r(_ x: Double, _ y: Double) -> String { y > 0 ? String(format: "%.2f×", x / y) : "–" }
        guard let first = results.first else { return "" }
        var text = "One worker, claim then complete with claim_next; (\(first.largeTasks) − \(first.smallTasks) tasks) under callgrind.\n\n"
        text += "| build | instructions/task | its SQL replayed (floor) | coordinator ÷ floor | statements/task | sqlite3_step/task |\n"
        text += "| --- | ---: | ---: | ---: | ---: | ---: |\n"
        for x in results {
            text += "| \(x.binary) | \(m(x.instructionsPerTask)) | \(m(x.floorPerTask)) | \(r(x.instructionsPerTask, x.floorPerTask)) | "
                + String(format: "%.2f | %.2f |\n", x.statementsPerTask, x.stepsPerTask)
        }
        text += "\n"
        for x in results {
            text += "\(x.binary): coordinator \(m(x.instructionsPerTask)) instr/task, its own SQL replayed \(m(x.floorPerTask)) instr/task, "
                + "ratio \(r(x.instructionsPerTask, x.floorPerTask)); " + String(format: "statements/task %.2f\n", x.statementsPerTask)
            if x.mismatches > 0 {
                text += "  warning: \(x.mismatches) replayed steps returned other than the coordinator's: the floor is not this run's SQL exactly\n"
            }
        }
        for old in results.dropFirst() {
            text += "\nnew ÷ old (\(first.binary) ÷ \(old.binary)): instructions \(r(first.instructionsPerTask, old.instructionsPerTask)), "
                + "floor \(r(first.floorPerTask, old.floorPerTask)), statements \(r(first.statementsPerTask, old.statementsPerTask))\n"
        }
        return text
    }
}
