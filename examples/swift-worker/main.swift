// A persistent-lane worker with the KanbanClient library: `LaneWorker` claims (waiting for work),
// heartbeats from a background thread while the handler runs, then completes with the handler's
// result or blocks with its error. Each request is resent with its request_id after a timeout, so a
// coordinator restart in the middle of a task costs nothing.
//
//   swift build --product kanban-example-swift-worker
//   KANBAN_LANE=factory KANBAN_LANE_TOKEN=lt_... .build/debug/kanban-example-swift-worker [--tasks N] [--idle-exit] [--wait-ms MS] [--work-ms MS]
import Foundation
import KanbanClient
import KanbanModel

struct Options {
    var tasks = 0          // 0: run until stopped
    var idleExit = false   // exit when a claim's wait ends with no work
    var waitMs = 30_000
    var workMs = 200

    init(_ args: [String]) {
        var it = args.makeIterator()
        while let arg = it.next() {
            switch arg {
            case "--tasks": tasks = Int(it.next() ?? "") ?? 0
            case "--idle-exit": idleExit = true
            case "--wait-ms": waitMs = Int(it.next() ?? "") ?? waitMs
            case "--work-ms": workMs = Int(it.next() ?? "") ?? workMs
            default: Self.usage()
            }
        }
    }

    static func usage() -> Never {
        FileHandle.standardError.write(Data("usage: kanban-example-swift-worker [--tasks N] [--idle-exit] [--wait-ms MS] [--work-ms MS]\n".utf8))
        exit(2)
    }
}

/// The work itself: replace with yours. A thrown error blocks the task with the error as the reason.
struct WorkFailed: Error, CustomStringConvertible {
    let description: String
}

func work(_ task: JSONValue, workMs: Int) throws -> String {
    let title = task["title"]?.stringValue ?? ""
    Thread.sleep(forTimeInterval: Double(workMs) / 1000)  // stand-in for real work; heartbeats run meanwhile
    if title.lowercased().contains("fail") { throw WorkFailed(description: "the task asked to fail") }
    return "processed \(title)"
}

/// One line to stdout, unbuffered, so a supervisor (or a test) sees progress as it happens.
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

let options = Options(Array(CommandLine.arguments.dropFirst()))
let env = ProcessInfo.processInfo.environment
guard let lane = env["KANBAN_LANE"], !lane.isEmpty, let token = env["KANBAN_LANE_TOKEN"], !token.isEmpty else {
    FileHandle.standardError.write(Data("kanban-example-swift-worker: set KANBAN_LANE and KANBAN_LANE_TOKEN\n".utf8))
    exit(2)
}
let worker = LaneWorker(endpoint: env["KANBAN_BRIDGE_ENDPOINT"] ?? "tcp://127.0.0.1:5555", lane: lane, token: token,
                        timeoutMs: 3000)

var done = 0
while options.tasks == 0 || done < options.tasks {
    do {
        let worked = try worker.runOne(waitMs: options.waitMs) { task in
            say("claimed \(task["id"]?.stringValue ?? "?"): \(task["title"]?.stringValue ?? "")")
            return try work(task, workMs: options.workMs)
        }
        guard let taskID = worked else {
            say("no task for lane \(lane) within \(options.waitMs) ms")
            if options.idleExit { break }
            continue
        }
        say("finished \(taskID)")
        done += 1
    } catch LaneWorker.Failure.claimLost(let taskID) {
        say("lost the claim on \(taskID) (reclaimed or expired); moving on")
        done += 1
    } catch {
        FileHandle.standardError.write(Data("kanban-example-swift-worker: \(error)\n".utf8))
        exit(1)
    }
}
