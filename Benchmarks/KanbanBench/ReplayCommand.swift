import ArgumentParser
import Foundation

/// `kanban-bench replay-sql`: the floor's replayer, run by `kanban-bench --instructions` under
/// callgrind (a process of its own, so its instruction count is only the replay's).
public struct ReplayCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "replay-sql",
        abstract: "Replay a trace of Benchmarks/sqltrace/sqltrace.c against a board (used by --instructions).",
        discussion: """
            Runs the recorded statements with their recorded values, in order, through the SQLite C API, each \
            distinct SQL prepared once. The board is changed: pass a copy of the board as it was when the trace \
            began. Prints `replay steps=N mismatches=M` (M: steps that returned other than they did when recorded).
            """)

    @Option(help: ArgumentHelp("The trace file.", valueName: "path"))
    var trace: String

    @Option(help: ArgumentHelp("The board to run it on (changed).", valueName: "path"))
    var board: String

    public init() {}

    public func run() throws {
        guard let data = FileManager.default.contents(atPath: trace) else { throw ValidationError("cannot read \(trace)") }
        let program = try SQLReplayProgram(events: SQLTrace.parse(Array(data)))
        let outcome = try SQLReplay.run(program, board: board)
        if let first = outcome.firstMismatch { FileHandle.standardError.write(Data("replay-sql: first mismatch at \(first)\n".utf8)) }
        print("replay steps=\(outcome.steps) mismatches=\(outcome.mismatches)")
    }

    /// The two figures of the line `run` prints, or nil when it is not there.
    static func parseOutcome(_ output: String) -> (steps: Int, mismatches: Int)? {
        guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("replay steps=") }) else { return nil }
        var values: [String: Int] = [:]
        for field in line.split(separator: " ").dropFirst() {
            let kv = field.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { values[String(kv[0])] = Int(kv[1]) }
        }
        guard let steps = values["steps"], let mismatches = values["mismatches"] else { return nil }
        return (steps, mismatches)
    }
}
