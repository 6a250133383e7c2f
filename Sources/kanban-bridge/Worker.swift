import ArgumentParser
import Foundation
import KanbanModel
import KanbanProtocol

/// The task and claim token every claim-scoped verb needs.
struct ClaimOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Task id (default: $KANBAN_TASK).", valueName: "id"))
    var task: String?
    @Option(help: ArgumentHelp("Claim token from `claim` (default: $KANBAN_CLAIM_TOKEN).", valueName: "token"))
    var claimToken: String?

    func ref() throws -> ClaimRef {
        let env = ProcessInfo.processInfo.environment
        guard let task = task ?? env["KANBAN_TASK"] else { throw ValidationError("missing --task (or $KANBAN_TASK)") }
        guard let token = claimToken ?? env["KANBAN_CLAIM_TOKEN"] else {
            throw ValidationError("missing --claim-token (or $KANBAN_CLAIM_TOKEN)")
        }
        return ClaimRef(taskID: task, claimToken: token)
    }
}

struct Claim: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Claim one task for a lane: the named one, or its best (highest priority, then oldest).",
        discussion: """
            Prints the task and the claim token; keep the token to heartbeat, complete, block or release. Exits 3 when there is nothing to claim. With --wait the coordinator holds the request until work arrives or the wait ends.

            In a shell script, --format shell prints `export KANBAN_TASK='…'` lines (also KANBAN_CLAIM_TOKEN, KANBAN_RUN_ID, KANBAN_LEASE_SECONDS, KANBAN_TASK_TITLE, KANBAN_TASK_BODY, …), every value single-quoted, so `eval` is safe whatever the title holds. heartbeat, complete, block and release then find the task and token in the environment:

              if out=$(kanban-bridge claim --lane factory --wait 30000 --format shell); then
                  eval "$out"
                  kanban-bridge complete --result done
              fi

            Every worker verb resends a request that got no reply (--timeout, default 5 s) with the same request_id, up to --retries times (default 9: about a minute), so a coordinator that is slow for a moment or restarts costs nothing, and nothing is done twice. Exit 8 means it stayed unreachable all that time.
            """)
    @Option(help: "Lane to claim for.") var lane: String
    @Option(name: .customLong("task"), help: "Claim this task.") var taskID: String?
    @Option(help: "Lease length for this claim.") var leaseSeconds: Int?
    @Option(help: "Wait up to this many milliseconds for work.") var wait: Int = 0
    @OptionGroup var output: WorkerOutputOptions
    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        try perform {
            // A negative --wait was always sent as none: answer at once.
            let request = ClaimRequest(lane: lane, taskID: taskID, leaseSeconds: leaseSeconds, waitMs: max(0, wait))
            let client = try connection.client(preferLane: true)
            client.timeoutMs = max(client.timeoutMs, wait + 5000)
            client.retries = output.retries
            let result = try client.call(.claim(request))
            let format = output.resolved(json: connection.json)
            if format == .json { printJSON(result) }
            guard let task = result["task"], !task.isNull else {
                if format == .text { printError("nothing to claim for lane \(lane)") }
                throw ExitCode(3)
            }
            printClaim(task: task, claim: result["claim"] ?? .null, format: format)
        }
    }
}

/// A granted claim (of `claim`, or the next one of `complete --claim-next`) in the chosen format.
func printClaim(task: JSONValue, claim: JSONValue, format: OutputFormat) {
    switch format {
    case .json: return
    case .shell:
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        print(ShellAssignments.render(ShellAssignments.claim(task: task, claim: claim, nowMs: nowMs)))
    case .text:
        print(taskLine(task))
        print("run:         \(claim["run_id"]?.intValue ?? 0)")
        print("claim token: \(claim["token"]?.stringValue ?? "")")
        print("lease until: \(claim["lease_expires_at"]?.intValue ?? 0) (unix seconds)")
    }
}

/// Sends a claim-scoped request as the lane and prints the result in the chosen format.
func claimScopedCall(_ request: Request, _ connection: ConnectionOptions, _ output: WorkerOutputOptions,
                     shell: (JSONValue) -> [(String, String)], text: (JSONValue) -> Void) throws {
    try perform {
        let client = try connection.client(preferLane: true)
        client.retries = output.retries
        let result = try client.call(request)
        switch output.resolved(json: connection.json) {
        case .json: printJSON(result)
        case .shell: print(ShellAssignments.render(shell(result)))
        case .text: text(result)
        }
    }
}

struct Heartbeat: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Extend a claim's lease and record liveness.")
    @OptionGroup var claim: ClaimOptions
    @Option(help: "Progress note shown in the task's history.") var note: String?
    @OptionGroup var output: WorkerOutputOptions
    @OptionGroup var connection: ConnectionOptions
    func run() throws {
        try claimScopedCall(.heartbeat(try claim.ref(), note: note, metadata: nil), connection, output,
                            shell: { [("KANBAN_LEASE_EXPIRES_AT", String($0["lease_expires_at"]?.intValue ?? 0))] },
                            text: { print("lease until \($0["lease_expires_at"]?.intValue ?? 0) (unix seconds)") })
    }
}

struct Complete: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Finish a claimed task: done, with a result.")
    @OptionGroup var claim: ClaimOptions
    @Option(help: "The result (stored on the task).") var result: String?
    @Option(help: ArgumentHelp("Read the result from this file ('-' for stdin), e.g. an agent's output.", valueName: "path"))
    var resultFile: String?
    @Option(help: "One-line summary for the run (default: the result).") var summary: String?
    @Flag(help: ArgumentHelp(
        "Also claim the lane's next task in the same round trip (the wire's claim_next), printed as `claim` prints "
            + "it; exit 3 when the completion went through and nothing was left to claim."))
    var claimNext = false
    @OptionGroup var output: WorkerOutputOptions
    @OptionGroup var connection: ConnectionOptions
    func validate() throws {
        if result != nil, resultFile != nil { throw ValidationError("give --result or --result-file, not both") }
    }
    func run() throws {
        var result = self.result
        if let resultFile {
            let data = resultFile == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: resultFile)
            guard let data else { throw ValidationError("cannot read --result-file \(resultFile)") }
            // Agent output is not always valid UTF-8; keep what can be kept rather than refuse it.
            result = String(decoding: data, as: UTF8.self)
        }
        let request = Request.complete(try claim.ref(), result: result, summary: summary, metadata: nil, claimNext: claimNext)
        guard claimNext else {
            return try claimScopedCall(request, connection, output, shell: { ShellAssignments.task($0["task"] ?? .null) },
                                       text: { print(taskLine($0["task"] ?? .null)) })
        }
        try perform {
            let client = try connection.client(preferLane: true)
            client.retries = output.retries
            let result = try client.call(request)
            let format = output.resolved(json: connection.json)
            if format == .json { printJSON(result) }
            if format == .text { print(taskLine(result["task"] ?? .null)) }
            guard let next = result["next"], let task = next["task"], !task.isNull else {
                if format == .text { printError("nothing more to claim") }
                throw ExitCode(3)
            }
            printClaim(task: task, claim: next["claim"] ?? .null, format: format)
        }
    }
}

struct Block: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop work on a claimed task: blocked, with the reason.")
    @OptionGroup var claim: ClaimOptions
    @Option(help: "Why it cannot go on.") var reason: String?
    @Option(help: "A short kind, e.g. needs_input.") var kind: String?
    @OptionGroup var output: WorkerOutputOptions
    @OptionGroup var connection: ConnectionOptions
    func run() throws {
        try claimScopedCall(.block(try claim.ref(), reason: reason, kind: kind),
                            connection, output, shell: { ShellAssignments.task($0["task"] ?? .null) },
                            text: { print(taskLine($0["task"] ?? .null)) })
    }
}

struct Release: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Give a claimed task back: ready again at once, no failure counted.")
    @OptionGroup var claim: ClaimOptions
    @Option(help: "Why.") var reason: String?
    @OptionGroup var output: WorkerOutputOptions
    @OptionGroup var connection: ConnectionOptions
    func run() throws {
        try claimScopedCall(.release(try claim.ref(), reason: reason),
                            connection, output, shell: { ShellAssignments.task($0["task"] ?? .null) },
                            text: { print(taskLine($0["task"] ?? .null)) })
    }
}

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print events after a sequence number (replay).")
    @Option(help: "Events with seq greater than this.") var since: Int = 0
    @Option(help: "Only this lane's events ('_' for tasks with no lane).") var lane: String?
    @Option(help: "At most this many.") var limit: Int = 1000
    @OptionGroup var connection: ConnectionOptions
    func run() throws {
        try connection.run(.events(since: Int64(since), limit: limit, lane: lane), asLane: true) { result in
            for e in result["events"]?.arrayValue ?? [] {
                print("\(e["seq"]?.intValue ?? 0)  \((e["lane"]?.stringValue ?? "_").padding(16))  \((e["type"]?.stringValue ?? "").padding(14))  \(e["task_id"]?.stringValue ?? "")")
            }
        }
    }
}

struct Ping: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check that the coordinator answers.")
    @OptionGroup var connection: ConnectionOptions
    func run() throws {
        try connection.run(.ping, asLane: true) { result in
            print("kanban-bridge \(result["version"]?.stringValue ?? "?") protocol \(result["protocol"]?.intValue ?? 0) at \(connection.endpoint)")
        }
    }
}
