import Foundation

/// Counting instructions with `valgrind --tool=callgrind`: repeatable on a shared machine, where
/// wall-clock figures are not. The parsing and the arithmetic are pure, for the unit tests.
public enum Callgrind {
    /// The command line that runs `argv` under callgrind, writing its profile to `outFile`.
    /// `toggleCollect`: functions whose calls (with everything they call) are left out of the count
    /// (`--toggle-collect` flips collection on entry and back on return), or, with
    /// `collectAtStart: false`, the only ones counted. Said explicitly, and after the toggles: each
    /// `--toggle-collect` sets `--collect-atstart` to no (valgrind 3.19's clo.c), so order matters.
    public static func command(_ argv: [String], outFile: String, toggleCollect: [String] = [], collectAtStart: Bool = true) -> [String] {
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=\(outFile)"] + toggleCollect.map { "--toggle-collect=\($0)" }
            + ["--collect-atstart=\(collectAtStart ? "yes" : "no")"] + argv
    }

    /// The instructions (Ir) a callgrind profile counted: its `totals:` line (`summary:` in some
    /// versions), whose first number is the first event, Ir by default.
    public static func totalInstructions(profile text: String) -> UInt64? {
        var summary: UInt64?
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            for key in ["totals:", "summary:"] where line.hasPrefix(key) {
                let first = line.dropFirst(key.count).split(separator: " ", omittingEmptySubsequences: true).first
                guard let value = first.flatMap({ UInt64($0) }) else { continue }
                if key == "totals:" { return value }
                summary = value
            }
        }
        return summary
    }

    /// The cost of one task: two runs that differ only in their number of tasks, subtracted, so
    /// start-up, shut-down and everything else done once cancel out.
    public static func perTask(small: UInt64, large: UInt64, smallTasks: Int, largeTasks: Int) -> Double {
        precondition(largeTasks > smallTasks, "the large run must have more tasks")
        return (Double(large) - Double(small)) / Double(largeTasks - smallTasks)
    }

    /// A copy of `binary` in `dir` without debug sections: valgrind 3.19 cannot read the DWARF that
    /// Swift 6 writes and stops. The symbol table stays, so profiles still name functions.
    public static func strippedCopy(of binary: String, in dir: String) throws -> String {
        let copy = dir + "/" + URL(fileURLWithPath: binary).lastPathComponent
        try? FileManager.default.removeItem(atPath: copy)
        try FileManager.default.copyItem(atPath: binary, toPath: copy)
        try runTool(["strip", "--strip-debug", copy])
        return copy
    }

    /// Runs a tool (found on PATH) to completion; fails with its output when it fails.
    @discardableResult
    static func runTool(_ argv: [String], environment: [String: String] = [:]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchError("\(argv.prefix(3).joined(separator: " ")) … exited with \(process.terminationStatus): \(output.suffix(2000))")
        }
        return output
    }
}
